"""``ctc-submit run`` in a process of its own, read back from its run report: the measurement the
benchmarks of the user's command share.

Peak memory is also sampled from outside, as each process's high-water mark (``VmHWM`` in
``/proc/PID/status``, Linux), for the run and each process it starts (the clustering processes and
their resource tracker). The run report has the run's own peak and the largest clustering
process's (null when clustering ran in the run's process), each as that process saw it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE_EVERY_S = 0.2

# The command from this interpreter, as ``ctc-submit batch`` starts its runs: whatever scripts are on PATH.
CTC_SUBMIT = [sys.executable, "-m", "ctc_submit.cli"]


class RunFailed(RuntimeError):
    """``ctc-submit run`` exited with an error; the message is the end of what it wrote to stderr."""


def run_command(sequence: Path, output: Path, dataset: str, *options: str) -> dict:
    """``ctc-submit run SEQUENCE OUTPUT --dataset DATASET [OPTIONS] --overwrite``; its run report, plus
    the process's wall time from start-up to exit (``process_wall_s``)."""
    command = [*CTC_SUBMIT, "run", str(sequence), str(output), "--dataset", dataset, *options, "--overwrite"]
    peaks: dict[int, float] = {}
    with tempfile.TemporaryFile("w+") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
        while process.poll() is None:
            sample_peaks(process.pid, peaks)
            time.sleep(SAMPLE_EVERY_S)
        wall = time.perf_counter() - started
        if process.returncode:
            stderr.seek(0)
            lines = stderr.read().strip().splitlines() or [f"exit status {process.returncode}"]
            raise RunFailed(lines[-1])
    report = json.loads(output.with_name(f"{output.name}.run_report.json").read_text())
    report["process_wall_s"] = round(wall, 2)
    report["sampled_peak_memory_mib"] = (
        {"run": round(peaks.pop(process.pid), 1), "started_processes": round(sum(peaks.values()), 1)}
        if process.pid in peaks
        else None
    )
    return report


def sample_peaks(root: int, peaks: dict[int, float]) -> None:
    """Record in ``peaks`` the high-water mark (MiB) of ``root`` and of every process below it, where
    ``/proc`` shows them. The latest sample of a process replaces the earlier ones: the mark only rises,
    but a process read between its start and its ``exec`` shows its starter's."""
    pending = [root]
    while pending:
        pid = pending.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            pending += [
                int(child)
                for path in Path(f"/proc/{pid}/task").glob("*/children")
                for child in path.read_text().split()
            ]
        except (OSError, ValueError):
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks[pid] = int(line.split()[1]) / 1024


def summarise(report: dict) -> dict:
    """What the benchmarks compare of one run: sizes, time, memory, compute, counts and scores."""
    return {
        "frames": report["counts"]["frames"],
        "frame_size": report["frame_size"],
        "network_scale": report["preset"]["network_scale"],
        "network_grid": report["parameters"]["network_grid"],
        "tiles": report["parameters"]["tiles"],
        "wall_s": report["process_wall_s"],
        "timings_s": report["timings_s"],
        "clustering_busy_s": report["clustering_busy_s"],
        "peak_memory_mib": report["peak_memory_mib"],
        "peak_memory_clustering_process_mib": report["peak_memory_clustering_process_mib"],
        "sampled_peak_memory_mib": report["sampled_peak_memory_mib"],
        "compute": {
            key: report["parameters"][key]
            for key in ("cpu", "device", "precision", "network_threads", "clustering_processes")
        },
        "counts": report["counts"],
        "scores": report["scores"],
        "score_error": report["score_error"],
    }
