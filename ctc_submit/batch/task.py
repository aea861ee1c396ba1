"""One sequence as one task: skip it when its result is finished, else ``ctc-submit run`` in a subprocess.

The subprocess keeps each sequence apart from the worker and from the others: its signals, its
memory, its GPU context, and its clustering pool, which a daemonic dask worker may not start itself
(a daemonic process may have no children of ``multiprocessing``; a subprocess it may). The run
inherits the worker's CPU affinity and ``CUDA_VISIBLE_DEVICES`` (see :mod:`ctc_submit.batch.cluster`),
so its own core plan splits the worker's share.

A sequence's own failure (bad input, a defect, the run killed) is returned, not raised: raising is
kept for the worker's, which dask answers by running the task again elsewhere.
"""

from __future__ import annotations

import ctypes
import json
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ctc_submit.batch.manifest import SequenceItem
from ctc_submit.io import CTCInputError, list_frames
from ctc_submit.report import report_path
from ctc_submit.validate import validate_result

EVENTS_TOPIC = "ctc-submit-batch"
PR_SET_PDEATHSIG = 1  # linux/prctl.h
LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None  # loaded here, not in a fork
# The run subprocesses of this worker process, stopped when the worker closes.
RUNNING: set[subprocess.Popen] = set()
RUNNING_LOCK = threading.Lock()


@dataclass
class SequenceOutcome:
    """``done`` (run now), ``skipped`` (finished before) or ``failed`` with the one-line reason;
    ``report`` is the run report of the result (counts, timings, scores)."""

    name: str
    status: str
    report: dict = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status != "failed"


def ground_truth(item: SequenceItem) -> Path | None:
    gt = item.input_dir.with_name(f"{item.input_dir.name}_GT")
    return gt if (gt / "TRA").is_dir() else None


def finished_report(item: SequenceItem) -> dict | None:
    """The run report of a finished result of this sequence: the report is there and readable, it
    counted as many frames as the input has, and the result passes validation (against the GT when
    there is one). Anything less is run again."""
    path = report_path(item.output_dir)
    if not item.output_dir.is_dir() or not path.is_file():
        return None
    try:
        report = json.loads(path.read_text())
        frames = len(list_frames(item.input_dir))
        if not isinstance(report, dict) or report.get("counts", {}).get("frames") != frames:
            return None
        return report if validate_result(item.output_dir, ground_truth(item)).ok else None
    except (OSError, ValueError, AttributeError, CTCInputError):
        return None


def run_command(item: SequenceItem, device: str, score: bool | None, overwrite: bool) -> list[str]:
    """``ctc-submit run`` with this interpreter; ``overwrite`` replaces an unfinished or stale result
    (``run`` still refuses a folder that holds anything but a result)."""
    command = [sys.executable, "-m", "ctc_submit.cli", "run", str(item.input_dir), str(item.output_dir)]
    command += ["--dataset", item.dataset, "--device", device]
    if item.model is not None:
        command += ["--model", str(item.model)]
    if score is not None:
        command.append("--score" if score else "--no-score")
    if overwrite:
        command.append("--overwrite")
    return command


def error_line(stderr: str, returncode: int) -> str:
    """The run's own one-line error, else the last line it printed (a traceback's), else how it ended."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith(("Error:", "Aborted:")):
            return line
    if returncode < 0:
        name = signal.Signals(-returncode).name
        return f"killed by {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
    return lines[-1] if lines else f"ended with exit status {returncode}"


def die_with_worker() -> None:
    """Run in the child before it becomes ``ctc-submit run`` (Linux): SIGTERM when the worker dies,
    even killed, so that no orphan goes on writing a sequence that dask has given to another worker."""
    assert LIBC is not None  # the preexec_fn only where LIBC is loaded
    LIBC.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))


def stop_running_sequences() -> None:
    """Terminate this process's runs (each removes its unfinished output on SIGTERM) and wait for them."""
    with RUNNING_LOCK:
        processes = list(RUNNING)
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait()


def announce(item: SequenceItem) -> None:
    """Tell the batch that this sequence started, and where (only when it runs on a dask worker)."""
    from distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:
        return
    worker.log_event(EVENTS_TOPIC, {"name": item.name, "worker_name": str(worker.name)})


def worker_closing() -> bool:
    from distributed import get_worker
    from distributed.core import Status

    try:
        return get_worker().status != Status.running
    except ValueError:
        return False


def run_sequence(
    item: SequenceItem, device: str = "auto", score: bool | None = None, overwrite: bool = False
) -> SequenceOutcome:
    """Process one sequence unless a finished result is there (and ``overwrite`` is off)."""
    started = time.perf_counter()
    if not overwrite:
        report = finished_report(item)
        if report is not None:
            return SequenceOutcome(item.name, "skipped", report)
    announce(item)
    replace = overwrite or (item.output_dir.is_dir() and any(item.output_dir.iterdir()))
    process = subprocess.Popen(
        run_command(item, device, score, replace), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=die_with_worker if LIBC else None,
    )  # fmt: skip
    with RUNNING_LOCK:
        RUNNING.add(process)
    try:
        _, stderr = process.communicate()
    finally:
        with RUNNING_LOCK:
            RUNNING.discard(process)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        if worker_closing():
            from distributed import Reschedule

            raise Reschedule()  # stopped with its worker: not the sequence's failure
        if not overwrite and (report := finished_report(item)) is not None:
            # An earlier try of this task, on a worker lost meanwhile, finished first.
            return SequenceOutcome(item.name, "done", report, seconds=seconds)
        return SequenceOutcome(item.name, "failed", error=error_line(stderr, process.returncode), seconds=seconds)
    try:
        report = json.loads(report_path(item.output_dir).read_text())
    except (OSError, ValueError) as error:
        return SequenceOutcome(item.name, "failed", error=f"run report unreadable ({error})", seconds=seconds)
    return SequenceOutcome(item.name, "done", report, seconds=seconds)
