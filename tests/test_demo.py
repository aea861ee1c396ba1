"""The demo's data lookup, its challenge layout, and the whole flow with a stand-in run script."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

import ctc_submit.cli.demo as demo_cli
from ctc_submit.cli import main
from ctc_submit.demo import DATASET, SCRIPT, find_dataset, make_layout
from ctc_submit.io import CTCInputError, Track, read_tracks, write_tracks

FRAMES = 6
COPY_GT_SCRIPT = """#!/bin/bash
# Stand-in for the real script: the GT markers as the result, with the challenge's relative paths.
set -e
cd "$(dirname "$0")"
mkdir ../DIC-C2DH-HeLa/01_RES
for marker in ../DIC-C2DH-HeLa/01_GT/TRA/man_track*.tif; do
    name=$(basename "$marker")
    cp "$marker" "../DIC-C2DH-HeLa/01_RES/mask${name#man_track}"
done
cp ../DIC-C2DH-HeLa/01_GT/TRA/man_track.txt ../DIC-C2DH-HeLa/01_RES/res_track.txt
"""


def fake_dataset(root: Path) -> Path:
    dataset = root / DATASET
    for name in ("01", "01_GT"):
        (dataset / name).mkdir(parents=True)
    return dataset


def scripts_folder(root: Path, body: str = COPY_GT_SCRIPT) -> Path:
    root.mkdir(parents=True)
    (root / SCRIPT).write_text(body)
    return root


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file below ``folder`` with its size and modification time."""
    return {str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns) for path in folder.rglob("*")}


def test_data_from_option_then_environment_then_earlier_download(tmp_path: Path) -> None:
    option, environment, earlier = (fake_dataset(tmp_path / name) for name in ("option", "env", "earlier"))
    env = {"CTC_DATA": str(environment.parent)}
    assert find_dataset(option.parent, env, [earlier.parent]) == option
    assert find_dataset(option, env, []) == option
    assert find_dataset(None, env, [earlier.parent]) == environment
    assert find_dataset(None, {}, [tmp_path / "missing", earlier.parent]) == earlier
    assert find_dataset(None, {}, [tmp_path / "missing"]) is None


def test_named_data_without_the_dataset_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CTCInputError, match=r"\(the data folder given\): no DIC-C2DH-HeLa/01") as given:
        find_dataset(tmp_path, {}, [])
    assert given.value.option == "data"
    with pytest.raises(CTCInputError, match=r"\(CTC_DATA\)") as from_environment:
        find_dataset(None, {"CTC_DATA": str(tmp_path)}, [])
    assert from_environment.value.option is None


def test_layout_links_the_data_and_copies_the_scripts(tmp_path: Path) -> None:
    data = fake_dataset(tmp_path / "data")
    scripts = scripts_folder(tmp_path / "scripts")
    layout = make_layout(data, tmp_path / "work", scripts)
    assert layout.dataset == (tmp_path / "work" / DATASET).resolve()
    for name in ("01", "01_GT"):
        assert (layout.dataset / name).is_symlink()
        assert Path(os.readlink(layout.dataset / name)) == data.resolve() / name
    assert (layout.software / SCRIPT).read_text() == COPY_GT_SCRIPT
    assert layout.software.parent == layout.dataset.parent
    assert layout.result == layout.dataset / "01_RES" and not layout.result.exists()


def test_layout_is_rebuilt_on_a_second_run(tmp_path: Path) -> None:
    first, second = fake_dataset(tmp_path / "a"), fake_dataset(tmp_path / "b")
    scripts = scripts_folder(tmp_path / "scripts")
    layout = make_layout(first, tmp_path / "work", scripts)
    layout.result.mkdir()
    (layout.result / "mask000.tif").write_bytes(b"old")
    (layout.software / "stale.sh").write_text("")
    layout = make_layout(second, tmp_path / "work", scripts)
    assert Path(os.readlink(layout.images)) == second.resolve() / "01"
    assert not layout.result.exists()
    assert sorted(path.name for path in layout.software.iterdir()) == [SCRIPT]
    assert sorted(path.name for path in first.iterdir()) == ["01", "01_GT"]


def test_layout_refuses_to_write_into_the_data_or_over_real_folders(tmp_path: Path) -> None:
    data = fake_dataset(tmp_path / "data")
    scripts = scripts_folder(tmp_path / "scripts")
    with pytest.raises(CTCInputError, match="inside the data folder"):
        make_layout(data, data / "work", scripts)
    (tmp_path / "work" / DATASET / "01").mkdir(parents=True)
    with pytest.raises(CTCInputError, match="not a link made by the demo"):
        make_layout(data, tmp_path / "work", scripts)
    with pytest.raises(CTCInputError, match="run script not found"):
        make_layout(data, tmp_path / "other", tmp_path)


def test_layout_never_deletes_what_the_demo_did_not_write(tmp_path: Path) -> None:
    data = fake_dataset(tmp_path / "data")
    scripts = scripts_folder(tmp_path / "scripts")
    layout = make_layout(data, tmp_path / "work", scripts)
    layout.result.mkdir()
    (layout.result / "thesis.docx").write_text("mine")
    with pytest.raises(CTCInputError, match="not a result folder"):
        make_layout(data, tmp_path / "work", scripts)
    (layout.result / "thesis.docx").unlink()
    (layout.software / "analysis.py").write_text("mine")
    with pytest.raises(CTCInputError, match="more than the demo's run scripts"):
        make_layout(data, tmp_path / "work", scripts)
    assert (layout.software / "analysis.py").read_text() == "mine"


@pytest.fixture
def small_hela(ctc_data: Path, tmp_path: Path) -> Path:
    """The first frames of DIC-C2DH-HeLa 01 with their TRA ground truth, as links."""
    source = ctc_data / DATASET
    dataset = tmp_path / "data" / DATASET
    (dataset / "01").mkdir(parents=True)
    (dataset / "01_GT" / "TRA").mkdir(parents=True)
    for t in range(FRAMES):
        (dataset / "01" / f"t{t:03d}.tif").symlink_to(source / "01" / f"t{t:03d}.tif")
        (dataset / "01_GT" / "TRA" / f"man_track{t:03d}.tif").symlink_to(
            source / "01_GT" / "TRA" / f"man_track{t:03d}.tif"
        )
    tracks = [
        Track(t.label, t.begin, min(t.end, FRAMES - 1), t.parent)
        for t in read_tracks(source / "01_GT" / "TRA" / "man_track.txt")
        if t.begin < FRAMES
    ]
    write_tracks(dataset / "01_GT" / "TRA" / "man_track.txt", tracks)
    return dataset


def run_demo(*args: str):
    return CliRunner().invoke(main, ["demo", *args])


def test_demo_runs_scores_and_draws_without_touching_the_data(small_hela: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CTC_DATA", raising=False)
    before = snapshot(small_hela)
    work = tmp_path / "work"
    result = run_demo(
        "--data", str(small_hela.parent), "--workdir", str(work), "--scripts", str(scripts_folder(tmp_path / "scripts"))
    )
    assert result.exit_code == 0, result.output
    assert snapshot(small_hela) == before
    res = (work / DATASET / "01_RES").resolve()
    assert res.is_dir() and not res.is_symlink() and res.parent == (work / DATASET).resolve()
    scores = json.loads((work / "evaluation" / "scores.json").read_text())
    assert scores == {"TRA": 1.0, "DET": 1.0}
    assert "TRA 1.000000  DET 1.000000" in result.stdout
    with Image.open(work / "pictures" / "overlay.gif") as gif:
        assert gif.n_frames == FRAMES
    assert (work / "pictures" / "lineage.png").is_file() and (work / "pictures" / "frames.png").is_file()
    assert str(work / "pictures" / "overlay.gif") in result.stdout

    again = run_demo("--workdir", str(work), "--scripts", str(tmp_path / "scripts"), "--data", str(small_hela))
    assert again.exit_code == 0, again.output
    assert snapshot(small_hela) == before


def test_failing_script_is_one_line(small_hela: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CTC_DATA", raising=False)
    scripts = scripts_folder(tmp_path / "scripts", "#!/bin/bash\nexit 3\n")
    result = run_demo("--data", str(small_hela), "--workdir", str(tmp_path / "work"), "--scripts", str(scripts))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].endswith(f"{SCRIPT} failed with exit status 3")


def test_missing_data_is_downloaded_into_the_workdir(small_hela: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CTC_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    calls = []

    def fake_download(name: str, dest: Path, **options) -> Path:
        calls.append((name, dest))
        dest.mkdir(parents=True)
        (dest / name).symlink_to(small_hela)
        return dest / name

    monkeypatch.setattr(demo_cli, "download_dataset", fake_download)
    scripts = scripts_folder(tmp_path / "scripts")
    work = tmp_path / "work"
    assert run_demo("--workdir", str(work), "--scripts", str(scripts)).exit_code == 0
    assert calls == [(DATASET, work / "data")]
    assert run_demo("--workdir", str(work), "--scripts", str(scripts)).exit_code == 0
    assert len(calls) == 1


def test_a_missing_viz_extra_is_one_line_before_anything_runs(tmp_path: Path, monkeypatch) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *args: None if name == "matplotlib" else find_spec(name, *args)
    )
    result = CliRunner().invoke(main, ["demo", "--workdir", str(tmp_path / "work"), "--data", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: the demo draws its result with matplotlib: install the viz extra first (pip install 'ctc_submit[viz]')"
    ]
    assert not (tmp_path / "work").exists()


def test_the_default_layout_gets_the_scripts_ctc_submit_scripts_writes(tmp_path: Path) -> None:
    layout = make_layout(fake_dataset(tmp_path / "data"), tmp_path / "work")
    assert os.access(layout.software / SCRIPT, os.X_OK)
    assert all(os.access(path, os.X_OK) for path in layout.software.iterdir())
    assert "exec ctc-submit run" in (layout.software / "DIC-C2DH-HeLa-01.sh").read_text()
