"""The official-executable wrappers, with fake SEGMeasure/TRAMeasure/DETMeasure scripts."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from ctc_submit.evaluation.measures import evaluate_official
from ctc_submit.io import CTCInputError

FAKE_TOOL = """#!{python}
import json, os, sys
from pathlib import Path

tool = Path(sys.argv[0]).name
dataset, seq = Path(sys.argv[1]), sys.argv[2]
res = dataset / (seq + "_RES")
record = {{
    "argv": sys.argv[1:],
    "gt": os.path.realpath(dataset / (seq + "_GT")),
    "res_is_link": res.is_symlink(),
    "res": {{p.name: os.path.realpath(p) for p in res.iterdir()}},
}}
Path(os.environ["FAKE_RECORD"], tool + ".json").write_text(json.dumps(record))
(res / (tool[:3] + "_log.txt")).write_text("official log of " + tool)
if os.environ.get("FAKE_REFUSE") == tool:
    print("Invalid parent connection for the computed track with label 30!")
    sys.exit(255)
print(tool[:3] + " measure: " + {{"SEG": "0.250000", "TRA": "0.500000", "DET": "0.750000"}}[tool[:3]])
"""


def install_fakes(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ["SEGMeasure", "TRAMeasure", "DETMeasure"]:
        path = folder / name
        path.write_text(FAKE_TOOL.format(python=sys.executable))
        path.chmod(0o755)
    return folder


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A one-frame dataset with 3-digit names: 01_GT/{TRA,SEG} and 01_RES."""
    labels = np.zeros((8, 8), np.uint16)
    labels[2:6, 2:6] = 1
    root = tmp_path / "data"
    for folder in ("01_GT/TRA", "01_GT/SEG", "01_RES"):
        (root / folder).mkdir(parents=True)
    tifffile.imwrite(root / "01_GT/TRA/man_track000.tif", labels)
    tifffile.imwrite(root / "01_GT/SEG/man_seg000.tif", labels)
    (root / "01_GT/TRA/man_track.txt").write_text("1 0 0 0\n")
    tifffile.imwrite(root / "01_RES/mask000.tif", labels)
    (root / "01_RES/res_track.txt").write_text("1 0 0 0\n")
    return root


@pytest.fixture
def fakes_on_path(tmp_path: Path, monkeypatch) -> Path:
    bin_dir = install_fakes(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CTC_EVALUATION_TOOLS", raising=False)
    records = tmp_path / "records"
    records.mkdir()
    monkeypatch.setenv("FAKE_RECORD", str(records))
    return records


def test_tools_score_a_staged_copy_and_leave_the_user_folders_alone(dataset, fakes_on_path, tmp_path):
    values = evaluate_official(dataset, "01", measures=["SEG", "TRA", "DET", "OP_CSB"], log_dir=tmp_path / "logs")
    assert values == {"SEG": 0.25, "TRA": 0.5, "DET": 0.75, "OP_CSB": 0.5}
    for tool in ["SEGMeasure", "TRAMeasure", "DETMeasure"]:
        record = json.loads((fakes_on_path / f"{tool}.json").read_text())
        staged, seq, digits = record["argv"]
        assert (seq, digits) == ("01", "3")
        assert Path(staged) != dataset and dataset not in Path(staged).parents
        assert record["gt"] == os.path.realpath(dataset / "01_GT")
        assert not record["res_is_link"]  # a real folder: the tool's log must not land in the user's one
        assert record["res"]["mask000.tif"] == os.path.realpath(dataset / "01_RES" / "mask000.tif")
        assert record["res"]["res_track.txt"] == os.path.realpath(dataset / "01_RES" / "res_track.txt")
    assert sorted(p.name for p in (dataset / "01_RES").iterdir()) == ["mask000.tif", "res_track.txt"]
    assert (tmp_path / "logs" / "TRA_log.txt").read_text() == "official log of TRAMeasure"
    assert not Path(staged).exists()  # the staging folder is removed


def test_only_the_tools_needed_run(dataset, fakes_on_path):
    assert evaluate_official(dataset, "01", measures=["OP_CTB"]) == {"OP_CTB": pytest.approx(0.375)}
    assert sorted(p.name for p in fakes_on_path.iterdir()) == ["SEGMeasure.json", "TRAMeasure.json"]


def test_a_refusal_is_one_line_with_the_tool_and_its_message(dataset, fakes_on_path, monkeypatch):
    monkeypatch.setenv("FAKE_REFUSE", "TRAMeasure")
    with pytest.raises(CTCInputError) as refusal:
        evaluate_official(dataset, "01", measures=["TRA"])
    assert str(refusal.value) == (
        "TRAMeasure refused the result (exit code 255): Invalid parent connection for the computed track with label 30!"
    )


def test_missing_tools_are_named(dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("CTC_EVALUATION_TOOLS", raising=False)
    with pytest.raises(CTCInputError, match=r"SEGMeasure not found: .*PATH or in \$CTC_EVALUATION_TOOLS"):
        evaluate_official(dataset, "01", measures=["SEG"])


def test_tools_folder_variable_comes_before_path(dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("CTC_EVALUATION_TOOLS", str(install_fakes(tmp_path / "tools")))
    monkeypatch.setenv("FAKE_RECORD", str(tmp_path))
    assert evaluate_official(dataset, "01", measures=["DET"]) == {"DET": 0.75}


def test_local_only_measures_are_refused(dataset, fakes_on_path):
    with pytest.raises(CTCInputError, match="LNK, DET0: computed here only, not by the official tools"):
        evaluate_official(dataset, "01", measures=["LNK", "DET0"])
