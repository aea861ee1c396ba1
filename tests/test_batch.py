"""The parts of ``ctc-submit batch`` that need no cluster: manifests, layouts, core shares, the
finished-result check, error lines and the summary table."""

from __future__ import annotations

import json
import shutil

import pytest
from ctc_layout import copy_first_frames

from ctc_submit.batch.cluster import default_workers, split_cores, worker_shares
from ctc_submit.batch.manifest import SequenceItem, load_items
from ctc_submit.batch.summary import format_table, summary_row
from ctc_submit.batch.task import SequenceOutcome, error_line, finished_report, run_command
from ctc_submit.io import CTCInputError
from ctc_submit.report import report_path

DATASET = "DIC-C2DH-HeLa"


def sequence(folder, frames: int = 2):
    folder.mkdir(parents=True)
    for index in range(frames):
        (folder / f"t{index:03d}.tif").write_bytes(b"")
    return folder


def test_a_layout_root_gives_every_dataset_sequence_and_skips_gt_st_and_results(tmp_path):
    for name in ("A/01", "A/02", "B/01"):
        sequence(tmp_path / name)
    for name in ("A/01_GT", "A/01_ST", "A/01_RES", "A/notes", "C"):
        (tmp_path / name).mkdir(parents=True)
    items = load_items(tmp_path)
    assert [(item.name, item.output_dir, item.dataset) for item in items] == [
        ("A/01", tmp_path / "A" / "01_RES", "A"),
        ("A/02", tmp_path / "A" / "02_RES", "A"),
        ("B/01", tmp_path / "B" / "01_RES", "B"),
    ]
    dataset_only = load_items(tmp_path / "A", output_root=tmp_path / "out")
    assert [item.output_dir for item in dataset_only] == [
        tmp_path / "out" / "A" / f"{name}_RES" for name in ("01", "02")
    ]


def test_csv_and_yaml_manifests_resolve_paths_from_their_folder_and_fill_in_the_model(tmp_path):
    (tmp_path / "m.csv").write_text(
        "# experiment 7\ninput,output,dataset,model\nA/01,res/01,DIC-HeLa,\nA/02,res/02,DIC-HeLa,own.pt\n"
    )
    (tmp_path / "m.yaml").write_text(
        "sequences:\n  - {input: A/01, output: res/01, dataset: DIC-HeLa, name: first}\n"
        "  - {input: A/02, output: res/02, dataset: DIC-HeLa, model: own.pt}\n"
    )
    for manifest in ("m.csv", "m.yaml"):
        items = load_items(tmp_path / manifest, model=tmp_path / "default.pt")
        assert [item.input_dir for item in items] == [tmp_path / "A" / "01", tmp_path / "A" / "02"]
        assert [item.output_dir for item in items] == [tmp_path / "res" / "01", tmp_path / "res" / "02"]
        assert [item.model for item in items] == [tmp_path / "default.pt", tmp_path / "own.pt"]
    assert [item.name for item in load_items(tmp_path / "m.yaml")] == ["first", "A/02"]


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("m.csv", "input,output\nA/01,res\n", "sequence 1: no dataset"),
        ("m.csv", "input,output,dataset,modle\nA/01,res,X,m.pt\n", "unknown column 'modle'"),
        ("m.csv", "input,output,dataset\n", "lists no sequence"),
        ("m.csv", "input,output,dataset\nA/01,res,X\nA/02,res,X\n", "output folder"),
        ("m.yaml", "input: A/01\n", "expected a list of sequences"),
        ("m.yaml", "- [unclosed\n", "not valid YAML"),
        ("m.txt", "input,output,dataset\n", ".csv, .yaml or .yml"),
    ],
)
def test_a_bad_manifest_is_one_input_error(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(CTCInputError, match=message.replace(".", r"\.")):
        load_items(tmp_path / name)


def test_a_folder_without_sequences_or_a_missing_source_is_an_input_error(tmp_path):
    with pytest.raises(CTCInputError, match="no sequence found"):
        load_items(tmp_path)
    with pytest.raises(CTCInputError, match="no such manifest or folder"):
        load_items(tmp_path / "nope.csv")


def test_cores_are_split_in_contiguous_shares_and_gpus_one_per_worker():
    assert split_cores([0, 1, 2, 3, 4], 2) == [(0, 1, 2), (3, 4)]
    assert split_cores([0, 1], 3) == [(0,), (1,), (0,)]
    assert default_workers(cores=2, gpus=0) == 1 and default_workers(cores=16, gpus=0) == 8
    assert default_workers(cores=16, gpus=4) == 4
    shares = worker_shares(2, [0, 1, 2, 3], gpus=2)
    assert shares["0"].cores == (0, 1) and shares["0"].gpu == 0 and shares["1"].gpu == 1
    assert worker_shares(1, [0, 1], gpus=0)["0"].gpu is None


def test_the_run_command_passes_the_options_and_uses_this_interpreter(tmp_path):
    import sys

    item = SequenceItem("A/01", tmp_path / "01", tmp_path / "01_RES", DATASET, tmp_path / "m.pt")
    command = run_command(item, "cpu", score=False, overwrite=True)
    assert command[:5] == [sys.executable, "-m", "ctc_submit.cli", "run", str(tmp_path / "01")]
    assert command[5:] == [str(tmp_path / "01_RES"), "--dataset", DATASET, "--device", "cpu",
                           "--model", str(tmp_path / "m.pt"), "--no-score", "--overwrite"]  # fmt: skip
    assert "--model" not in run_command(SequenceItem("A/01", tmp_path, tmp_path, DATASET), "auto", None, False)


def test_the_error_line_is_the_runs_own_else_the_last_line_else_how_it_ended():
    assert error_line("Segmenting\nError: t002.tif: truncated\n", 2) == "Error: t002.tif: truncated"
    assert error_line("Traceback (most recent call last):\n  ...\nValueError: boom\n", 1) == "ValueError: boom"
    assert error_line("", -9) == "killed by SIGKILL (out of memory?)"
    assert error_line("", 3) == "ended with exit status 3"


@pytest.fixture(scope="module")
def finished(ctc_data, tmp_path_factory):
    """A sequence with GT and a result made from the GT markers (valid), with its run report."""
    root = tmp_path_factory.mktemp("finished")
    copy_first_frames(ctc_data / DATASET, root / DATASET, "01", 3)
    result = root / DATASET / "01_RES"
    result.mkdir()
    tra = root / DATASET / "01_GT" / "TRA"
    for index in range(3):
        shutil.copy(tra / f"man_track{index:03d}.tif", result / f"mask{index:03d}.tif")
    shutil.copy(tra / "man_track.txt", result / "res_track.txt")
    report_path(result).write_text(json.dumps({"counts": {"frames": 3}, "timings_s": {"total": 1.5}}))
    return root / DATASET


def test_a_finished_result_is_one_with_its_report_as_many_frames_and_valid(finished, tmp_path):
    work = tmp_path / DATASET
    shutil.copytree(finished, work)
    item = SequenceItem("A/01", work / "01", work / "01_RES", DATASET)
    assert finished_report(item) == {"counts": {"frames": 3}, "timings_s": {"total": 1.5}}
    shutil.copy(work / "01" / "t000.tif", work / "01" / "t003.tif")  # a frame more than the result
    assert finished_report(item) is None
    (work / "01" / "t003.tif").unlink()
    (work / "01_RES" / "mask002.tif").unlink()  # invalid
    assert finished_report(item) is None
    report_path(work / "01_RES").unlink()
    assert finished_report(item) is None
    report_path(work / "01_RES").write_text("{not json")
    assert finished_report(item) is None


def test_the_summary_has_counts_times_and_scores_and_shows_errors_only_when_there_are():
    report = {"counts": {"frames": 4, "objects": 9, "tracks": 3, "divisions": 1}, "timings_s": {"total": 12.34},
              "scores": {"SEG": 0.81234, "TRA": 0.9, "DET": 0.95}}  # fmt: skip
    done = summary_row(SequenceOutcome("A/01", "done", report, seconds=20.0))
    assert done == {"sequence": "A/01", "status": "done", "frames": "4", "objects": "9", "tracks": "3",
                    "divisions": "1", "wall_s": "20.0", "run_s": "12.3", "SEG": "0.8123", "TRA": "0.9000",
                    "DET": "0.9500", "error": ""}  # fmt: skip
    skipped = summary_row(SequenceOutcome("A/02", "skipped", {**report, "scores": None}))
    assert skipped["wall_s"] == "" and skipped["run_s"] == "12.3" and skipped["SEG"] == ""
    assert "error" not in format_table([done, skipped])[0]
    failed = summary_row(SequenceOutcome("A/03", "failed", error="Error: bad frame", seconds=3.0))
    table = format_table([done, failed])
    assert table[0].split() == ["sequence", "status", "frames", "objects", "tracks", "divisions", "wall_s", "run_s",
                                "SEG", "TRA", "DET", "error"]  # fmt: skip
    assert table[2].startswith("A/03") and table[2].endswith("Error: bad frame")


def ended(process, timeout: float = 10.0) -> bool:
    """Gone, or a zombie nobody reaps (its parent was killed): either way it does no work."""
    import time

    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_a_sequence_whose_worker_is_lost_is_run_again_and_not_reported_failed(ctc_data, tmp_path):
    """The worker is killed while its run works; the run dies with it, dask gives the task to the
    restarted worker, and the sequence ends done, its result valid and nothing left behind."""
    import os
    import signal
    import threading
    import time

    import psutil
    from ctc_layout import save_tiny_model

    from ctc_submit.batch.cluster import local_client, local_shares
    from ctc_submit.batch.runner import run_batch
    from ctc_submit.validate import validate_result

    data = tmp_path / DATASET
    copy_first_frames(ctc_data / DATASET, data, "01", 4, with_gt=False)
    item = SequenceItem("hela", data / "01", data / "01_RES", DATASET, save_tiny_model(tmp_path / "tiny.pt", DATASET))
    lines: list[str] = []
    outcomes = []
    with local_client(local_shares(1, "cpu")) as client:
        (worker_pid,) = client.run(os.getpid).values()
        batch = threading.Thread(
            target=lambda: outcomes.extend(run_batch(client, [item], "cpu", False, False, lines.append))
        )
        batch.start()
        deadline = time.monotonic() + 60
        while not psutil.Process(worker_pid).children() and time.monotonic() < deadline:
            time.sleep(0.1)
        run = psutil.Process(worker_pid).children()[0]
        os.kill(worker_pid, signal.SIGKILL)
        batch.join(timeout=120)
    assert ended(run), "the run outlived its worker"
    assert [outcome.status for outcome in outcomes] == ["done"], lines
    assert sum(line.startswith("started") for line in lines) == 2
    assert validate_result(data / "01_RES").ok
    assert sorted(path.name for path in data.iterdir()) == [
        "01",
        "01_RES",
        "01_RES.cells.csv",
        "01_RES.run_report.json",
    ]
