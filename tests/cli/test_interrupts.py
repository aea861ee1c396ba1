"""``ctc-submit run`` stopped by Ctrl-C, SIGTERM or a closed terminal: children ended, nothing left, one line, 128+N.

The run goes through a driver that makes clustering run in a worker process (as on a machine with
cores to spare) and hang there, so the signal always arrives while a worker is busy.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ctc_layout import copy_first_frames, save_tiny_model

DATASET = "DIC-C2DH-HeLa"

HANGING_CLUSTERING = """
import os, time
from pathlib import Path

def hang(pair, **options):
    Path(os.environ["CLUSTERING_STARTED"]).write_text(str(os.getpid()))
    time.sleep(600)
"""

DRIVER = """
import sys
import hanging_clustering
from ctc_submit import pipeline, tracker
from ctc_submit.cli import main

if __name__ == "__main__":
    pipeline.timed_cluster_pair = hanging_clustering.hang
    tracker.core_plan = lambda device, **_: pipeline.CorePlan(1, 1, 1)
    main(sys.argv[1:], prog_name="ctc-submit")
"""


def start_hanging_run(tmp_path: Path, ctc_data: Path) -> tuple[subprocess.Popen, Path, Path]:
    copy_first_frames(ctc_data / DATASET, tmp_path / DATASET, "01", 2, with_gt=False)
    model = save_tiny_model(tmp_path / "tiny.pt", DATASET)
    (tmp_path / "hanging_clustering.py").write_text(HANGING_CLUSTERING)
    (tmp_path / "driver.py").write_text(DRIVER)
    started = tmp_path / "clustering_started"
    env = {
        **os.environ,
        "CLUSTERING_STARTED": str(started),
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    arguments = [
        "run",
        DATASET + "/01",
        DATASET + "/01_RES",
        "--dataset",
        DATASET,
        "--model",
        str(model),
        "--device",
        "cpu",
    ]
    process = subprocess.Popen(
        [sys.executable, "driver.py", *arguments], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not started.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "clustering never started"
        time.sleep(0.2)
    return process, tmp_path / DATASET, started


def gone(pid: int) -> bool:
    """No such process, or a zombie nobody reaps (a container's init may not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except FileNotFoundError:
        return True


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "to_group"),
    [(signal.SIGINT, True), (signal.SIGTERM, False), (signal.SIGHUP, True)],
    ids=["ctrl-c to the terminal's processes", "kill PID", "terminal closed"],
)
def test_a_signal_ends_every_child_removes_the_output_and_says_one_line(ctc_data, tmp_path, signum, to_group):
    process, dataset, started = start_hanging_run(tmp_path, ctc_data)
    worker = int(started.read_text())
    if to_group:
        os.killpg(process.pid, signum)
    else:
        os.kill(process.pid, signum)
    try:
        out, err = process.communicate(timeout=60)  # returns only once every holder of the pipes is gone
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    assert process.returncode == 128 + signum, err
    assert "Traceback" not in err and "leaked" not in err, err
    lines = [line for line in err.splitlines() if line.strip() and line != "Segmenting and tracking"]
    assert lines == [f"Aborted: interrupted by {signal.Signals(signum).name}; unfinished output removed"], err
    assert gone(worker)
    assert sorted(path.name for path in dataset.iterdir()) == ["01"]
