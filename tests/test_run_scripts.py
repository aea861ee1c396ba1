"""The challenge scripts in run_scripts/: run from their folder on ../DATASET/SEQ, as the organisers do."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from ctc_layout import copy_first_frames, save_tiny_model

from ctc_submit.cli import main
from ctc_submit.presets import PRESETS
from ctc_submit.registry import available_models
from ctc_submit.scripts import script_name, scripts_for
from ctc_submit.validate import validate_result

SCRIPTS = Path(__file__).resolve().parents[1] / "run_scripts"
EXPECTED = {f"{name}-{sequence}.sh": (name, sequence) for name in PRESETS for sequence in ("01", "02")}
BASH = shutil.which("bash")
EXPECTED.update({f"DIC-HeLa-{sequence}.sh": ("DIC-C2DH-HeLa", sequence) for sequence in ("01", "02")})


def software_folder(tmp_path: Path) -> Path:
    """The scripts as 'ctc-submit scripts WORK/SW' writes them, next to where the datasets go."""
    software = tmp_path / "SW"
    result = CliRunner().invoke(main, ["scripts", str(software)])
    assert result.exit_code == 0 and result.output.startswith(f"{software}: 14 scripts"), result.output
    return software


def run_script(software: Path, script: str, *args: str, path: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": path}
    return subprocess.run([BASH, script, *args], cwd=software, env=env, capture_output=True, text=True, timeout=300)


def test_there_is_one_executable_script_per_dataset_and_sequence():
    scripts = {path.name for path in SCRIPTS.iterdir()}
    assert scripts == set(EXPECTED)
    assert all(os.access(SCRIPTS / name, os.X_OK) for name in scripts)


def test_scripts_of_one_dataset_are_rewritten_only_when_asked(tmp_path):
    first = CliRunner().invoke(main, ["scripts", str(tmp_path), "--dataset", "DIC-HeLa"])
    assert first.exit_code == 0, first.output
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        f"{name}-{sequence}.sh" for name in ("DIC-C2DH-HeLa", "DIC-HeLa") for sequence in ("01", "02")
    )
    assert CliRunner().invoke(main, ["scripts", str(tmp_path), "--dataset", "DIC-HeLa"]).exit_code == 0
    (tmp_path / "DIC-HeLa-01.sh").write_text("edited")
    refused = CliRunner().invoke(main, ["scripts", str(tmp_path), "--dataset", "DIC-HeLa"])
    assert refused.exit_code == 2 and "exists and differs" in refused.output
    assert (tmp_path / "DIC-HeLa-01.sh").read_text() == "edited"
    assert CliRunner().invoke(main, ["scripts", str(tmp_path), "--dataset", "DIC-HeLa", "--overwrite"]).exit_code == 0
    assert 'DIC-C2DH-HeLa-01.sh" "$@"' in (tmp_path / "DIC-HeLa-01.sh").read_text()  # the short name runs the full one


def test_the_project_scripts_are_what_ctc_submit_scripts_writes():
    """run_scripts/ is the command's output, committed: regenerate it with 'ctc-submit scripts run_scripts --overwrite'."""
    assert {path.name: path.read_text() for path in SCRIPTS.iterdir()} == scripts_for()


def test_the_script_to_run_has_the_short_name_where_there_is_one():
    """The name the demo runs is one of the names the scripts are written under."""
    for name in PRESETS:
        assert script_name(name, "01") in scripts_for([name])
    assert script_name("DIC-C2DH-HeLa", "01") == script_name("DIC-HeLa", "01") == "DIC-HeLa-01.sh"
    assert script_name("DIC-HeLa", "02", short=False) == "DIC-C2DH-HeLa-02.sh"
    assert script_name("Fluo-N2DH-SIM+", "01") == script_name("Fluo-N2DH-SIM+", "01", short=False)
    assert script_name("Fluo-N2DH-SIM+", "01") == "Fluo-N2DH-SIM+-01.sh"


def test_each_script_runs_ctc_submit_on_its_own_dataset_and_sequence(tmp_path):
    """A stand-in ctc-submit records its arguments: every script must call it the same way."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    log = tmp_path / "calls.txt"
    (fake_bin / "ctc-submit").write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$*" >> "{log}"\n')
    (fake_bin / "ctc-submit").chmod(0o755)
    software = software_folder(tmp_path)
    root = tmp_path.resolve()
    for script, (dataset, sequence) in sorted(EXPECTED.items()):
        log.unlink(missing_ok=True)
        completed = run_script(software, script, "--score", path=f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
        assert completed.returncode == 0, completed.stderr
        (call,) = log.read_text().splitlines()
        words = call.split()
        assert words[0] == "run" and words[3:] == ["--dataset", dataset, "--overwrite", "--score"]
        assert Path(words[1]).resolve() == root / dataset / sequence
        assert Path(words[2]).resolve() == root / dataset / f"{sequence}_RES"


def test_a_missing_ctc_submit_is_a_clear_error(tmp_path):
    bare_bin = tmp_path / "bin"
    bare_bin.mkdir()
    for tool in ("bash", "dirname"):
        (bare_bin / tool).symlink_to(shutil.which(tool))
    completed = run_script(software_folder(tmp_path), "DIC-HeLa-01.sh", path=str(bare_bin))
    assert completed.returncode == 2
    assert completed.stderr.strip().startswith("Error: ctc-submit not found")


@pytest.mark.slow
def test_dic_hela_01_produces_a_valid_scored_result_in_the_challenge_layout(ctc_data, tmp_path):
    copy_first_frames(ctc_data / "DIC-C2DH-HeLa", tmp_path / "DIC-C2DH-HeLa", "01", 3)
    model = save_tiny_model(tmp_path / "tiny.pt", "DIC-C2DH-HeLa")
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    options = ["--model", str(model), "--device", "cpu", "--score"]
    completed = run_script(software_folder(tmp_path), "DIC-HeLa-01.sh", *options, path=path)
    assert completed.returncode == 0, completed.stderr + completed.stdout
    dataset = tmp_path / "DIC-C2DH-HeLa"
    assert validate_result(dataset / "01_RES", dataset / "01_GT").ok
    assert {"SEG", "TRA", "DET", "CT", "BC(0)"} <= set(
        json.loads((dataset / "01_RES.run_report.json").read_text())["scores"]
    )
    again = run_script(tmp_path / "SW", "DIC-C2DH-HeLa-01.sh", "--model", str(model), "--no-score", path=path)
    assert again.returncode == 0, again.stderr


WITHOUT_MODEL = sorted(name for name, (dataset, _) in EXPECTED.items() if dataset not in available_models())


@pytest.mark.parametrize("script", WITHOUT_MODEL[:1])
def test_a_dataset_without_a_shipped_model_fails_with_a_clear_message(tmp_path, script):
    dataset, sequence = EXPECTED[script]
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    completed = run_script(software_folder(tmp_path), script, path=path)
    assert completed.returncode == 2
    (line,) = completed.stderr.strip().splitlines()
    assert line.startswith(f"Error: no model for {dataset} (available: ") and line.endswith("[--model]")


SHIPPED_FRAMES = 10


@pytest.mark.slow
def test_the_shipped_model_tracks_the_first_frames_of_dic_hela_01(ctc_data, tmp_path):
    """The real job on real frames: the script with the shipped model, scored on frames 0-9 (GT SEG of 2 and 5).

    Measured with the shipped model on these frames: SEG 0.877, TRA 0.991, DET 0.990. With the paper's
    c = 0.02 this model merges touching cells and scores SEG 0.843, TRA 0.949, DET 0.960: the SEG and
    TRA floors sit between, so merged cells fail the test.
    """
    copy_first_frames(ctc_data / "DIC-C2DH-HeLa", tmp_path / "DIC-C2DH-HeLa", "01", SHIPPED_FRAMES)
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    completed = run_script(software_folder(tmp_path), "DIC-HeLa-01.sh", "--device", "cpu", "--score", path=path)
    assert completed.returncode == 0, completed.stderr + completed.stdout
    dataset = tmp_path / "DIC-C2DH-HeLa"
    validation = validate_result(dataset / "01_RES", dataset / "01_GT")
    assert validation.ok and not validation.warnings
    report = json.loads((dataset / "01_RES.run_report.json").read_text())
    assert report["counts"]["frames"] == SHIPPED_FRAMES
    scores = report["scores"]
    assert scores["SEG"] > 0.85 and scores["DET"] > 0.96 and scores["TRA"] > 0.96, scores


def scores_of_shipped_script(ctc_data: Path, tmp_path: Path, dataset_name: str, frames: int) -> dict:
    """Run DATASET-01.sh with the shipped model on the first ``frames`` frames of 01: its valid result's scores."""
    dataset = tmp_path / dataset_name
    copy_first_frames(ctc_data / dataset_name, dataset, "01", frames)
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    completed = run_script(software_folder(tmp_path), f"{dataset_name}-01.sh", "--device", "cpu", "--score", path=path)
    assert completed.returncode == 0, completed.stderr + completed.stdout
    assert validate_result(dataset / "01_RES", dataset / "01_GT").ok
    report = json.loads((dataset / "01_RES.run_report.json").read_text())
    assert report["counts"]["frames"] == frames
    return report["scores"]


@pytest.mark.slow
def test_the_shipped_model_tracks_the_first_frames_of_sim_01_on_tiles(ctc_data, tmp_path):
    """SIM+ on 320x320 tiles of its frames resized by 0.75: frames 0-5 with the shipped model, scored on
    the gold segmentation of every frame. Over all 65 frames of 01 the shipped model scores SEG 0.84,
    TRA 0.96, DET 0.97; a DIC-HeLa model in its place finds no nuclei (0 objects)."""
    scores = scores_of_shipped_script(ctc_data, tmp_path, "Fluo-N2DH-SIM+", 6)
    assert scores["SEG"] > 0.75 and scores["DET"] > 0.9 and scores["TRA"] > 0.9, scores


@pytest.mark.slow
def test_the_shipped_model_tracks_the_first_frames_of_gowt1_01(ctc_data, tmp_path):
    """GOWT1 with its shipped model: frames 0-8, scored on their gold segmentations (frames 2 and 5-8,
    one or two nuclei each, mostly a dim touching pair). Measured: SEG 0.753, TRA 0.995, DET 0.995 (the
    model before, without per-cell reach labels: SEG 0.617, TRA 0.976). The model trained with the push
    averaged over pixels merges that pair (SEG 0.422, TRA 0.943); the one averaged over neighbours but on
    linear intensities loses dim nuclei (SEG 0.676, TRA 0.853)."""
    scores = scores_of_shipped_script(ctc_data, tmp_path, "Fluo-N2DH-GOWT1", 9)
    assert scores["SEG"] > 0.7 and scores["DET"] > 0.95 and scores["TRA"] > 0.95, scores


@pytest.mark.slow
def test_the_shipped_model_tracks_the_first_frames_of_msc_01(ctc_data, tmp_path):
    """MSC with its shipped model, masks trimmed to the signal and the cells found in it beside them:
    frames 0-9, scored on their gold segmentations (frames 5, 7 and 9). Measured: SEG 0.627, TRA 0.965,
    DET 0.975 (before cells split off a mask by trimming were kept: 0.629, 0.958, 0.966)."""
    scores = scores_of_shipped_script(ctc_data, tmp_path, "Fluo-C2DL-MSC", 10)
    assert scores["SEG"] > 0.55 and scores["DET"] > 0.9 and scores["TRA"] > 0.9, scores
