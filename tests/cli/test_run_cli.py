"""``ctc-submit run`` in-process: result, report beside it, scores, and one-line errors that write nothing."""

from __future__ import annotations

import errno
import json
import os

import pytest
from click.testing import CliRunner
from ctc_layout import copy_first_frames, save_tiny_model

from ctc_submit import download, tracker
from ctc_submit.cli import main
from ctc_submit.io import read_tracks
from ctc_submit.pipeline import CorePlan
from ctc_submit.registry import available_models
from ctc_submit.tracking.lineage import lineage_counts
from ctc_submit.validate import validate_result

DATASET = "DIC-C2DH-HeLa"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("model") / "tiny.pt", DATASET)


@pytest.fixture()
def layout(ctc_data, tmp_path):
    copy_first_frames(ctc_data / DATASET, tmp_path / DATASET, "01", 3)
    return tmp_path / DATASET


def invoke(*args):
    return CliRunner().invoke(main, ["run", *map(str, args)])


def invoke_on(folder, *options):
    """``run folder/01 folder/01_RES options...``"""
    return invoke(folder / "01", folder / "01_RES", *options)


def test_a_run_writes_a_valid_result_and_a_report_beside_it_with_scores(layout, tiny_model, monkeypatch):
    monkeypatch.setattr(tracker, "core_plan", lambda device, **_: CorePlan(1, 1, 1))  # one clustering process
    result = invoke_on(layout, "--dataset", DATASET, "--model", tiny_model, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert validate_result(layout / "01_RES", layout / "01_GT").ok
    assert sorted(path.name for path in layout.iterdir()) == [
        "01",
        "01_GT",
        "01_RES",
        "01_RES.cells.csv",
        "01_RES.run_report.json",
    ]
    report = json.loads((layout / "01_RES.run_report.json").read_text())
    assert report["dataset"] == DATASET and report["preset"]["m_pts"] == 1000
    assert -1 <= report["background_cosine_used"] <= report["preset"]["background_cosine"]
    assert report["parameters"]["clustering"] == "fast" and report["parameters"]["device"] == "cpu"
    assert (
        report["parameters"]["network_grid"],
        report["parameters"]["tiles"],
        report["parameters"]["subsampling_step"],
    ) == ([256, 256], 1, 4)
    assert report["counts"]["frames"] == 3
    assert set(report["timings_s"]) >= {"network", "clustering", "merge", "lineage", "upsample", "write", "total"}
    assert {"torch", "hdbscan", "python"} <= set(report["software"])
    assert 0 < report["peak_memory_clustering_process_mib"] < report["peak_memory_mib"]
    assert {"SEG", "TRA", "DET", "CT", "TF", "BC(0)", "CHOTA", "DIV_RECALL(0)"} <= set(report["scores"])
    assert report["score_error"] is None
    assert report["lineage"]["ground_truth"] == lineage_counts(read_tracks(layout / "01_GT" / "TRA" / "man_track.txt"))
    assert report["lineage"]["result"]["tracks"] == report["counts"]["tracks"]
    table = (layout / "01_RES.cells.csv").read_text().splitlines()
    assert table[0] == "track,frame,centroid_row,centroid_col,area,parent"
    assert len(table) - 1 == report["counts"]["objects"]
    assert not any(path.suffix == ".csv" for path in (layout / "01_RES").iterdir())
    assert "scores: SEG" in result.output and "report: " in result.output
    assert "time " in result.output and "clustering" in result.output


def test_no_score_skips_scoring_and_the_card_sets_the_recurrent_window(layout, tmp_path, monkeypatch):
    model = save_tiny_model(tmp_path / "windowed.pt", DATASET, recurrent_window={"hop": 2, "warmup": 1})
    monkeypatch.setattr(tracker, "core_plan", lambda device, **_: CorePlan(1, 0, 1))  # clustering in this process
    result = invoke_on(layout, "--dataset", "DIC-HeLa", "--model", model, "--no-score")
    assert result.exit_code == 0, result.output
    report = json.loads((layout / "01_RES.run_report.json").read_text())
    assert report["scores"] is None
    assert report["peak_memory_mib"] > 0 and report["peak_memory_clustering_process_mib"] is None
    assert report["parameters"]["recurrent_window"] == {"hop": 2, "warmup": 1}


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_an_existing_result_needs_overwrite(layout, tiny_model):
    (layout / "01_RES").mkdir()
    (layout / "01_RES" / "mask000.tif").write_bytes(b"old")
    result = invoke_on(layout, "--dataset", DATASET, "--model", tiny_model)
    assert_one_line_error(result, "01_RES", "--overwrite")
    assert (layout / "01_RES" / "mask000.tif").read_bytes() == b"old"
    result = invoke_on(layout, "--dataset", DATASET, "--model", tiny_model, "--overwrite")
    assert result.exit_code == 0, result.output


def test_a_dataset_without_a_model_says_so(layout):
    result = invoke_on(layout, "--dataset", "Fluo-N2DL-HeLa")
    shipped = ", ".join(sorted(available_models()))
    assert_one_line_error(result, f"no model for Fluo-N2DL-HeLa (available: {shipped})", "--model", "CTC_SUBMIT_MODELS")
    assert not (layout / "01_RES").exists()


def test_score_requires_the_ground_truth(layout, tiny_model, tmp_path):
    copy_first_frames(layout, tmp_path / "no_gt", "01", 1, with_gt=False)
    result = invoke_on(tmp_path / "no_gt", "--dataset", DATASET, "--model", tiny_model, "--score")
    assert_one_line_error(result, "--score", "01_GT", "not found")
    assert sorted(path.name for path in (tmp_path / "no_gt").iterdir()) == ["01"]


@pytest.mark.parametrize(
    ("arguments", "fragments"),
    [
        (["01", "--dataset", "Nope"], ["unknown dataset 'Nope'", "DIC-C2DH-HeLa"]),
        (["01", "--dataset", DATASET, "--model", "{missing}"], ["missing.pt", "not found"]),
        (["02", "--dataset", DATASET, "--model", "{model}"], ["02", "not found"]),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(layout, tiny_model, tmp_path, arguments, fragments):
    sequence, *options = (arg.format(model=tiny_model, missing=tmp_path / "missing.pt") for arg in arguments)
    result = invoke(layout / sequence, layout / f"{sequence}_RES", *options)
    assert_one_line_error(result, *fragments)
    assert sorted(path.name for path in layout.iterdir()) == ["01", "01_GT"]


def test_a_report_that_cannot_be_written_is_one_line_after_the_summary_and_leaves_no_partial_file(
    layout, tiny_model, monkeypatch
):
    replace = os.replace

    def full_disk_for_reports(source, target):
        if str(target).endswith(".run_report.json"):
            raise OSError(errno.ENOSPC, "No space left on device")
        replace(source, target)

    monkeypatch.setattr(os, "replace", full_disk_for_reports)
    result = invoke_on(layout, "--dataset", DATASET, "--model", tiny_model, "--no-score")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert "warning: no object found in any frame (is the model made for this data?)" in lines
    assert lines[-1] == (
        f"Error: {layout / '01_RES.run_report.json'}: cannot be written (No space left on device); "
        "the result is complete"
    )
    assert sorted(path.name for path in layout.iterdir()) == ["01", "01_GT", "01_RES"]
    assert validate_result(layout / "01_RES", layout / "01_GT").ok


def test_no_room_for_the_masks_is_found_before_the_model_is_loaded(layout, tiny_model, monkeypatch):
    from ctc_submit.model import inference

    monkeypatch.setattr(download, "free_bytes", lambda folder: 10_000)
    monkeypatch.setattr(inference, "load_model", lambda *args: pytest.fail("model loaded before the checks"))
    result = invoke_on(layout, "--dataset", DATASET, "--model", tiny_model)
    assert_one_line_error(result, "not enough free space for 3 masks (1.6 MB needed, 0.0 MB free)")
    assert sorted(path.name for path in layout.iterdir()) == ["01", "01_GT"]


def test_a_corrupt_last_frame_is_found_before_the_model_is_loaded(layout, tiny_model, monkeypatch):
    from ctc_submit.model import inference

    last = layout / "01" / "t002.tif"
    last.write_bytes(last.read_bytes()[:1000])
    monkeypatch.setattr(inference, "load_model", lambda *args: pytest.fail("model loaded before the checks"))
    result = invoke_on(layout, "--dataset", DATASET, "--model", tiny_model)
    assert_one_line_error(result, f"{last}: no image in the file (truncated, or not a TIFF)")


def test_an_existing_result_is_refused_before_torch_is_imported(layout, tiny_model):
    """The refusal is immediate: torch and hdbscan take seconds to import."""
    import subprocess
    import sys

    (layout / "01_RES").mkdir()
    (layout / "01_RES" / "mask000.tif").write_bytes(b"old")
    code = (
        "import sys\nfrom ctc_submit.cli import main\n"
        f"try:\n    main(['run', {str(layout / '01')!r}, {str(layout / '01_RES')!r}, '--dataset', 'DIC-HeLa'])\n"
        "except SystemExit as end:\n    print(end.code, 'torch' in sys.modules, 'hdbscan' in sys.modules)\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert completed.stdout.split() == ["2", "False", "False"], completed.stderr
    assert "--overwrite" in completed.stderr
