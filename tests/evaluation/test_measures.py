"""``evaluate`` against the official evaluators: every golden verdict, two real results, their logs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tifffile
from golden_cases import GOLDEN_CASES

from ctc_submit.evaluation import evaluate
from ctc_submit.io import CTCInputError

# expected.json key -> (measure, penalize_extra_detections)
VERDICTS = {"SEG": ("SEG", True), "TRA": ("TRA", True), "DET": ("DET", True), "DET_penalize0": ("DET", False)}
REAL_RESULTS = ["PhC-C2DL-PSC-01", "iPSC-01"]


def sections(text: str) -> dict[str, Counter]:
    """A log as {section header: multiset of lines}."""
    found: dict[str, Counter] = {}
    current = ""
    for line in text.replace("\r", "").splitlines():
        if line.startswith("-----") or line.startswith("====="):
            current = line
            found.setdefault(current, Counter())
        else:
            found.setdefault(current, Counter())[line] += 1
    return found


def raw_text(path: Path) -> str:
    """The text with its line ends kept: CRLF marks logs of the official Windows build."""
    return path.read_bytes().decode()


def seg_objects(text: str) -> dict[tuple[str, str], float]:
    """A SEG log as {(file header, GT label): J}; the Windows build prints J ties rounded up, Linux to even."""
    objects, header = {}, ""
    for line in text.replace("\r", "").splitlines():
        if line.startswith("-----"):
            header = line
        elif line.startswith("GT_label="):
            label, j = re.fullmatch(r"GT_label=(\d+) J=(\S+)", line).groups()
            objects[header, label] = float(j)
    return objects


def assert_same_log(ours: str, official: str, name: str) -> None:
    """Same errors (in any order: the official tool lists edges in no stable order), same measure line."""
    if name == "SEG_log.txt":
        mine, theirs = seg_objects(ours), seg_objects(official)
        assert mine.keys() == theirs.keys()
        assert all(abs(mine[key] - theirs[key]) < 1.5e-6 for key in mine)  # last printed digit
        if "\r" not in official:  # logs of the Linux build: same digits, same order
            assert ours == official
    else:
        assert sections(ours) == sections(official)
    assert ours.splitlines()[-1] == official.replace("\r", "").splitlines()[-1]


def official_value(log: Path) -> float:
    return float(re.search(r"measure: ([0-9.]+)", log.read_text()).group(1))


def test_every_golden_case_is_covered(eval_fixtures):
    assert sorted(p.name for p in (eval_fixtures / "golden").iterdir()) == sorted(GOLDEN_CASES)


@pytest.mark.parametrize("key", VERDICTS)
@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_golden_verdict(eval_fixtures, case, key):
    folder = eval_fixtures / "golden" / case
    expected = json.loads((folder / "expected.json").read_text())[key]
    measure, penalize = VERDICTS[key]
    if expected["scored"]:
        values = evaluate(folder, "01", measures=[measure], penalize_extra_detections=penalize)
        assert values[measure] == pytest.approx(expected["value"], abs=1e-6)
    else:
        with pytest.raises(CTCInputError) as refusal:
            evaluate(folder, "01", measures=[measure], penalize_extra_detections=penalize)
        assert "\n" not in str(refusal.value)


@pytest.mark.parametrize("case", [c for c in GOLDEN_CASES if not c.startswith(("bad_", "ws_", "tif_"))])
def test_golden_logs_list_the_official_errors(eval_fixtures, tmp_path, case):
    folder = eval_fixtures / "golden" / case
    official_det = (folder / "01_RES" / "DET_log.txt").read_text()
    penalize = "False Positive Vertices (Penalty=1)" in official_det
    evaluate(folder, "01", measures=["SEG", "TRA", "DET"], penalize_extra_detections=penalize, log_dir=tmp_path)
    for name in ["SEG_log.txt", "TRA_log.txt", "DET_log.txt"]:
        assert_same_log((tmp_path / name).read_text(), raw_text(folder / "01_RES" / name), name)


@pytest.fixture(scope="module", params=REAL_RESULTS)
def real_result(request, eval_fixtures, tmp_path_factory):
    """One evaluation of all measures of a real result, with logs (PhC has 300 frames: run it once)."""
    folder = eval_fixtures / request.param
    logs = tmp_path_factory.mktemp(request.param)
    values = evaluate(folder, "01", measures=["SEG", "TRA", "DET", "LNK", "OP_CSB", "OP_CTB"], log_dir=logs)
    return folder, values, logs


@pytest.mark.slow
@pytest.mark.parametrize("measure", ["SEG", "TRA", "DET"])
def test_real_result_matches_official_value(real_result, measure):
    folder, values, _ = real_result
    assert values[measure] == pytest.approx(official_value(folder / "01_RES" / f"{measure}_log.txt"), abs=1e-6)


@pytest.mark.parametrize("measure", ["SEG", "TRA", "DET"])
def test_real_result_log_lists_the_official_errors(real_result, measure):
    folder, _, logs = real_result
    name = f"{measure}_log.txt"
    assert_same_log((logs / name).read_text(), raw_text(folder / "01_RES" / name), name)


def test_real_result_derived_measures(real_result):
    _, values, _ = real_result
    assert values["OP_CSB"] == pytest.approx((values["SEG"] + values["DET"]) / 2)
    assert values["OP_CTB"] == pytest.approx((values["SEG"] + values["TRA"]) / 2)
    assert 0 <= values["LNK"] <= 1


def copy_case(eval_fixtures: Path, case: str, destination: Path) -> Path:
    """A writable copy of a golden case's ground truth and result (logs left out)."""
    source = eval_fixtures / "golden" / case
    for path in source.rglob("*"):
        if path.is_file() and not path.name.endswith(("_log.txt", ".json")):
            target = destination / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    return destination


def test_default_measures_are_those_with_ground_truth(eval_fixtures, tmp_path):
    dataset = copy_case(eval_fixtures, "R1_missEdge_FP", tmp_path)
    assert list(evaluate(dataset, "01")) == ["SEG", "TRA", "DET"]
    for path in (dataset / "01_GT" / "SEG").iterdir():
        path.unlink()
    assert list(evaluate(dataset, "01")) == ["TRA", "DET"]
    with pytest.raises(CTCInputError, match="OP_CSB: no segmentation ground truth"):
        evaluate(dataset, "01", measures=["OP_CSB"])


def test_derived_measures_and_unknown_names(eval_fixtures):
    folder = eval_fixtures / "golden" / "R1_missEdge_FP"
    values = evaluate(folder, "01", measures=["DET0", "LNK", "OP_CSB", "OP_CTB"])
    assert values == pytest.approx({"DET0": 1.0, "LNK": 1 - 1.5 / 7.5, "OP_CSB": (0.94 + 1 - 1 / 70) / 2,
                                    "OP_CTB": (0.94 + 1 - 2.5 / 77.5) / 2})  # fmt: skip
    with pytest.raises(CTCInputError, match="unknown measure 'MOTA'"):
        evaluate(folder, "01", measures=["MOTA"])


def test_result_folder_can_live_anywhere_and_logs_go_where_asked(eval_fixtures, tmp_path):
    folder = eval_fixtures / "golden" / "R1_missEdge_FP"
    values = evaluate(folder, "01", res_dir=folder / "01_RES", measures=["DET0"], log_dir=tmp_path / "logs")
    assert values == {"DET0": 1.0}
    assert [p.name for p in (tmp_path / "logs").iterdir()] == ["DET_log.txt"]
    assert "False Positive Vertices (Penalty=0)" in (tmp_path / "logs" / "DET_log.txt").read_text()


def test_slice_beyond_the_result_volume_is_refused(eval_fixtures, tmp_path):
    dataset = copy_case(eval_fixtures, "D3", tmp_path)
    (dataset / "01_GT" / "SEG" / "man_seg_001_002.tif").rename(dataset / "01_GT" / "SEG" / "man_seg_001_009.tif")
    with pytest.raises(CTCInputError, match="mask001.tif: no slice 9"):
        evaluate(dataset, "01", measures=["SEG"])


def moving_cell(dataset: Path, frames: int) -> Path:
    """A 256x256 sequence of one cell drifting right, tracked perfectly."""
    for folder in ("01_GT/TRA", "01_GT/SEG", "01_RES"):
        (dataset / folder).mkdir(parents=True, exist_ok=True)
    for t in range(frames):
        labels = np.zeros((256, 256), np.uint16)
        labels[100:140, 10 + t : 50 + t] = 1
        tifffile.imwrite(dataset / "01_GT" / "TRA" / f"man_track{t:03d}.tif", labels)
        tifffile.imwrite(dataset / "01_GT" / "SEG" / f"man_seg{t:03d}.tif", labels)
        tifffile.imwrite(dataset / "01_RES" / f"mask{t:03d}.tif", labels * 7)
    (dataset / "01_GT" / "TRA" / "man_track.txt").write_text(f"1 0 {frames - 1} 0\n")
    (dataset / "01_RES" / "res_track.txt").write_text(f"7 0 {frames - 1} 0\n")
    return dataset


PEAK_MEMORY_SCRIPT = """
import sys, tracemalloc
from ctc_submit.evaluation import evaluate
evaluate(sys.argv[1], "01")  # imports and first-use caches are not what is measured
tracemalloc.start()
assert evaluate(sys.argv[1], "01") == {"SEG": 1.0, "TRA": 1.0, "DET": 1.0}
print(tracemalloc.get_traced_memory()[1])
"""


def peak_memory(dataset: Path) -> int:
    """Peak traced allocations of one evaluation in a fresh process (the test session's own garbage
    and caches would blur a measurement in this one)."""
    completed = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY_SCRIPT, str(dataset)], capture_output=True, text=True, check=True
    )
    return int(completed.stdout)


def test_memory_does_not_grow_with_the_sequence(tmp_path):
    """Frames are streamed: each extra frame may add per-object bookkeeping (a few kB: graph nodes and
    edges), never the frame itself (128 kB here)."""
    short = peak_memory(moving_cell(tmp_path / "short", 10))
    long = peak_memory(moving_cell(tmp_path / "long", 80))
    frame_bytes = 256 * 256 * 2
    assert (long - short) / 70 < frame_bytes / 10
