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
from ctc_submit.demo import DEFAULT_DATASET as DATASET
from ctc_submit.demo import find_dataset, make_layout
from ctc_submit.io import CTCInputError, Track, read_tracks, write_tracks
from ctc_submit.presets import PRESETS
from ctc_submit.registry import available_models

FRAMES = 6
SCRIPT = "DIC-HeLa-01.sh"
SIM = "Fluo-N2DH-SIM+"
UNMODELLED = next(name for name in PRESETS if name not in available_models())  # a preset, no shipped model
COPY_GT_SCRIPT = """#!/bin/bash
# Stand-in for the real script: the GT markers as the result, with the challenge's relative paths.
set -e
cd "$(dirname "$0")"
mkdir "../{dataset}/01_RES"
for marker in "../{dataset}/01_GT/TRA/"man_track*.tif; do
    name=$(basename "$marker")
    cp "$marker" "../{dataset}/01_RES/mask${{name#man_track}}"
done
cp "../{dataset}/01_GT/TRA/man_track.txt" "../{dataset}/01_RES/res_track.txt"
"""


def fake_dataset(root: Path, name: str = DATASET) -> Path:
    dataset = root / name
    for entry in ("01", "01_GT"):
        (dataset / entry).mkdir(parents=True)
    return dataset


def scripts_folder(root: Path, body: str | None = None, dataset: str = DATASET, script: str = SCRIPT) -> Path:
    root.mkdir(parents=True)
    (root / script).write_text(COPY_GT_SCRIPT.format(dataset=dataset) if body is None else body)
    return root


@pytest.fixture(autouse=True)
def demo_environment(tmp_path_factory, monkeypatch) -> None:
    """No data folder from the environment; the shipped models plus a (never loaded) Fluo-N2DH-SIM+ one."""
    models = tmp_path_factory.mktemp("models")
    (models / f"{SIM}.pt").write_bytes(b"")
    monkeypatch.setenv("CTC_SUBMIT_MODELS", str(models))
    monkeypatch.delenv("CTC_DATA", raising=False)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file below ``folder`` with its size and modification time."""
    return {str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns) for path in folder.rglob("*")}


def test_data_from_option_then_environment_then_earlier_download(tmp_path: Path) -> None:
    option, environment, earlier = (fake_dataset(tmp_path / name) for name in ("option", "env", "earlier"))
    env = {"CTC_DATA": str(environment.parent)}
    assert find_dataset(DATASET, option.parent, env, [earlier.parent]) == option
    assert find_dataset(DATASET, option, env, []) == option
    assert find_dataset(DATASET, None, env, [earlier.parent]) == environment
    assert find_dataset(DATASET, None, {}, [tmp_path / "missing", earlier.parent]) == earlier
    assert find_dataset(DATASET, None, {}, [tmp_path / "missing"]) is None


def test_named_data_without_the_dataset_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CTCInputError, match=r"\(the data folder given\): no DIC-C2DH-HeLa/01") as given:
        find_dataset(DATASET, tmp_path, {}, [])
    assert given.value.option == "data"
    with pytest.raises(CTCInputError, match=r"\(CTC_DATA\)") as from_environment:
        find_dataset(DATASET, None, {"CTC_DATA": str(tmp_path)}, [])
    assert from_environment.value.option is None


def test_a_folder_named_after_another_dataset_is_not_taken_for_this_one(tmp_path: Path) -> None:
    hela = fake_dataset(tmp_path)
    assert find_dataset(DATASET, hela, {}, []) == hela
    with pytest.raises(CTCInputError, match=r"no Fluo-N2DH-SIM\+/01 and Fluo-N2DH-SIM\+/01_GT folders"):
        find_dataset(SIM, hela, {}, [])
    assert find_dataset(SIM, None, {}, [hela]) is None
    assert find_dataset(SIM, None, {}, [fake_dataset(tmp_path / "mine", "frames")]) == tmp_path / "mine" / "frames"


def test_layout_links_the_data_and_copies_the_scripts(tmp_path: Path) -> None:
    data = fake_dataset(tmp_path / "data")
    scripts = scripts_folder(tmp_path / "scripts")
    layout = make_layout(DATASET, data, tmp_path / "work", scripts)
    assert layout.dataset == (tmp_path / "work" / DATASET).resolve()
    for name in ("01", "01_GT"):
        assert (layout.dataset / name).is_symlink()
        assert Path(os.readlink(layout.dataset / name)) == data.resolve() / name
    assert (layout.software / SCRIPT).read_text() == COPY_GT_SCRIPT.format(dataset=DATASET)
    assert layout.software.parent == layout.dataset.parent
    assert layout.result == layout.dataset / "01_RES" and not layout.result.exists()


def test_layout_is_rebuilt_on_a_second_run(tmp_path: Path) -> None:
    first, second = fake_dataset(tmp_path / "a"), fake_dataset(tmp_path / "b")
    scripts = scripts_folder(tmp_path / "scripts")
    layout = make_layout(DATASET, first, tmp_path / "work", scripts)
    layout.result.mkdir()
    (layout.result / "mask000.tif").write_bytes(b"old")
    (layout.software / "stale.sh").write_text("")
    layout = make_layout(DATASET, second, tmp_path / "work", scripts)
    assert Path(os.readlink(layout.images)) == second.resolve() / "01"
    assert not layout.result.exists()
    assert sorted(path.name for path in layout.software.iterdir()) == [SCRIPT]
    assert sorted(path.name for path in first.iterdir()) == ["01", "01_GT"]


def test_layout_refuses_to_write_into_the_data_or_over_real_folders(tmp_path: Path) -> None:
    data = fake_dataset(tmp_path / "data")
    scripts = scripts_folder(tmp_path / "scripts")
    with pytest.raises(CTCInputError, match="inside the data folder"):
        make_layout(DATASET, data, data / "work", scripts)
    (tmp_path / "work" / DATASET / "01").mkdir(parents=True)
    with pytest.raises(CTCInputError, match="not a link made by the demo"):
        make_layout(DATASET, data, tmp_path / "work", scripts)
    with pytest.raises(CTCInputError, match="run script not found"):
        make_layout(DATASET, data, tmp_path / "other", tmp_path)


def test_layout_never_deletes_what_the_demo_did_not_write(tmp_path: Path) -> None:
    data = fake_dataset(tmp_path / "data")
    scripts = scripts_folder(tmp_path / "scripts")
    layout = make_layout(DATASET, data, tmp_path / "work", scripts)
    layout.result.mkdir()
    (layout.result / "thesis.docx").write_text("mine")
    with pytest.raises(CTCInputError, match="not a result folder"):
        make_layout(DATASET, data, tmp_path / "work", scripts)
    (layout.result / "thesis.docx").unlink()
    (layout.software / "analysis.py").write_text("mine")
    with pytest.raises(CTCInputError, match="more than the demo's run scripts"):
        make_layout(DATASET, data, tmp_path / "work", scripts)
    assert (layout.software / "analysis.py").read_text() == "mine"


def small_copy(ctc_data: Path, root: Path, name: str) -> Path:
    """The first frames of sequence 01 of dataset ``name`` with their TRA ground truth, as links."""
    source = ctc_data / name
    dataset = root / name
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


@pytest.fixture
def small_hela(ctc_data: Path, tmp_path: Path) -> Path:
    return small_copy(ctc_data, tmp_path / "data", DATASET)


def run_demo(*args: str):
    return CliRunner().invoke(main, ["demo", *args])


@pytest.mark.parametrize("name, script", [(DATASET, SCRIPT), (SIM, "Fluo-N2DH-SIM+-01.sh")])
def test_demo_runs_scores_and_draws_without_touching_the_data(
    ctc_data: Path, tmp_path: Path, name: str, script: str
) -> None:
    data = small_copy(ctc_data, tmp_path / "data", name)
    before = snapshot(data)
    work = tmp_path / "work"
    scripts = scripts_folder(tmp_path / "scripts", dataset=name, script=script)
    result = run_demo("--dataset", name, "--data", str(data.parent), "--workdir", str(work), "--scripts", str(scripts))
    assert result.exit_code == 0, result.output
    assert f"Running SW/{script} " in result.stderr
    assert snapshot(data) == before
    res = (work / name / "01_RES").resolve()
    assert res.is_dir() and not res.is_symlink() and res.parent == (work / name).resolve()
    scores = json.loads((work / "evaluation" / name / "scores.json").read_text())
    assert scores == {"TRA": 1.0, "DET": 1.0}
    assert "TRA 1.000000  DET 1.000000" in result.stdout
    pictures = (work / "pictures" / name).resolve()
    with Image.open(pictures / "overlay.gif") as gif:
        assert gif.n_frames == FRAMES
    assert (pictures / "lineage.png").is_file() and (pictures / "frames.png").is_file()
    assert str(pictures / "overlay.gif") in result.stdout

    again = run_demo("--workdir", str(work), "--scripts", str(scripts), "--data", str(data), "--dataset", name)
    assert again.exit_code == 0, again.output
    assert snapshot(data) == before


def test_datasets_share_a_workdir(ctc_data: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    for name, script in [(DATASET, SCRIPT), (SIM, "Fluo-N2DH-SIM+-01.sh")]:
        data = small_copy(ctc_data, tmp_path / "data", name)
        scripts = scripts_folder(tmp_path / "scripts" / name, dataset=name, script=script)
        result = run_demo("--dataset", name, "--data", str(data), "--workdir", str(work), "--scripts", str(scripts))
        assert result.exit_code == 0, result.output
    for name in (DATASET, SIM):
        assert (work / name / "01_RES" / "res_track.txt").is_file()
        assert (work / "evaluation" / name / "scores.json").is_file()
        assert (work / "pictures" / name / "overlay.gif").is_file()
    assert sorted(path.name for path in (work / "SW").iterdir()) == ["Fluo-N2DH-SIM+-01.sh"]


def test_a_short_name_runs_the_short_named_script(small_hela: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    scripts = scripts_folder(tmp_path / "scripts")
    result = run_demo(
        "--dataset", "DIC-HeLa", "--data", str(small_hela), "--workdir", str(work), "--scripts", str(scripts)
    )
    assert result.exit_code == 0, result.output
    assert f"Running SW/{SCRIPT} " in result.stderr
    assert (work / DATASET / "01_RES" / "res_track.txt").is_file()
    assert sorted(path.name for path in work.iterdir()) == [DATASET, "SW", "evaluation", "pictures"]


@pytest.mark.parametrize(
    "name, start",
    [
        (UNMODELLED, f"no model for {UNMODELLED} (available: "),
        ("BF-C2DL-HSC", "no method parameters"),
        ("HeLa", "unknown"),
    ],
)
def test_a_dataset_run_would_refuse_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch, name: str, start: str
) -> None:
    """No model (an empty CTC_SUBMIT_MODELS leaves only the shipped ones), no preset, or no such dataset:
    the line 'ctc-submit run' gives, before any download or layout."""
    monkeypatch.setenv("CTC_SUBMIT_MODELS", str(tmp_path / "models"))
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)

    def no_download(*args, **options):
        raise AssertionError("downloaded")

    monkeypatch.setattr(demo_cli, "download_dataset", no_download)
    result = run_demo("--dataset", name, "--workdir", "work")
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    refused_run = CliRunner().invoke(main, ["run", "in", "out", "--dataset", name])
    assert refused_run.exit_code == 2
    assert line == refused_run.output.strip().removesuffix(" [--model]")
    assert line.startswith(f"Error: {start}") and name in line
    assert sorted(path.name for path in tmp_path.iterdir()) == ["models"]


def test_failing_script_is_one_line(small_hela: Path, tmp_path: Path) -> None:
    scripts = scripts_folder(tmp_path / "scripts", "#!/bin/bash\nexit 3\n")
    result = run_demo("--data", str(small_hela), "--workdir", str(tmp_path / "work"), "--scripts", str(scripts))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].endswith(f"{SCRIPT} failed with exit status 3")


@pytest.mark.parametrize("name, script", [(DATASET, SCRIPT), (SIM, "Fluo-N2DH-SIM+-01.sh")])
def test_missing_data_is_downloaded_into_the_workdir(
    ctc_data: Path, tmp_path: Path, monkeypatch, name: str, script: str
) -> None:
    monkeypatch.chdir(tmp_path)
    source = small_copy(ctc_data, tmp_path / "source", name)
    calls = []

    def fake_download(asked: str, dest: Path, **options) -> Path:
        calls.append((asked, dest))
        dest.mkdir(parents=True, exist_ok=True)
        (dest / asked).symlink_to(source)
        return dest / asked

    monkeypatch.setattr(demo_cli, "download_dataset", fake_download)
    scripts = scripts_folder(tmp_path / "scripts", dataset=name, script=script)
    work = tmp_path / "work"
    demo = ["--workdir", str(work), "--scripts", str(scripts), "--dataset", name]
    result = run_demo(*demo)
    assert result.exit_code == 0, result.output
    assert calls == [(name, work / "data")]
    assert run_demo(*demo).exit_code == 0
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
    layout = make_layout(DATASET, fake_dataset(tmp_path / "data"), tmp_path / "work")
    assert layout.script == SCRIPT and os.access(layout.software / SCRIPT, os.X_OK)
    assert all(os.access(path, os.X_OK) for path in layout.software.iterdir())
    assert "exec ctc-submit run" in (layout.software / "DIC-C2DH-HeLa-01.sh").read_text()

    layout = make_layout(SIM, fake_dataset(tmp_path / "data", SIM), tmp_path / "work")
    assert layout.script == "Fluo-N2DH-SIM+-01.sh"
    assert sorted(path.name for path in layout.software.iterdir()) == ["Fluo-N2DH-SIM+-01.sh", "Fluo-N2DH-SIM+-02.sh"]
    assert "--dataset Fluo-N2DH-SIM+ " in (layout.software / layout.script).read_text()
    assert (tmp_path / "work" / DATASET / "01").is_symlink()
