"""Speed and memory of ``ctc-submit evaluate`` (SEG+TRA+DET) on DIC-C2DH-HeLa 01.

The result scored is the ground truth's own tracking markers (``01_GT/TRA``), linked into
a temporary ``01_RES`` as ``maskNNN.tif`` with ``man_track.txt`` as ``res_track.txt``, so
TRA and DET must be 1. The whole command runs as a subprocess, as a user would run it:
wall time, CPU time (user+sys: the machine may be shared) and peak RSS of the child.

Target: under 2 s for the three measures, and a peak RSS that does not grow with the
number of frames (checked against the first quarter of the sequence).
Run: ``nice -n 5 python benchmarks/bench_evaluate.py``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ctc_submit.io import MAN_TRACK_NAME, Track, list_indexed_files, read_tracks, write_tracks

SHARED = Path(os.environ.get("CTC_SUBMIT_SHARED", Path(__file__).resolve().parents[2] / "shared"))
GT = SHARED / "ctc-data" / "DIC-C2DH-HeLa" / "01_GT"
TARGET_SECONDS = 2.0
MAX_RSS_GROWTH = 1.15
REPEATS = 3
CLI = [sys.executable, "-c", "from ctc_submit.cli import main; main()"]
API = [
    sys.executable,
    "-c",
    "import sys; from ctc_submit.evaluation import evaluate; print(evaluate(sys.argv[1], '01'))",
]


def stage(root: Path, frames: int | None = None) -> Path:
    """``root/01_GT`` (links, tracks cut to ``frames``) and ``root/01_RES`` made of the GT markers."""
    markers = list_indexed_files(GT / "TRA", MAN_TRACK_NAME)[:frames]
    last = markers[-1][0]
    tracks = [
        Track(t.label, t.begin, min(t.end, last), t.parent)
        for t in read_tracks(GT / "TRA" / "man_track.txt")
        if t.begin <= last
    ]
    (root / "01_GT" / "TRA").mkdir(parents=True)
    (root / "01_GT" / "SEG").mkdir()
    (root / "01_RES").mkdir()
    for index, path in markers:
        (root / "01_GT" / "TRA" / path.name).symlink_to(path)
        (root / "01_RES" / f"mask{index:03d}.tif").symlink_to(path)
    for path in (GT / "SEG").iterdir():
        if int(path.stem[len("man_seg") :]) <= last:
            (root / "01_GT" / "SEG" / path.name).symlink_to(path)
    write_tracks(root / "01_GT" / "TRA" / "man_track.txt", tracks)
    write_tracks(root / "01_RES" / "res_track.txt", tracks)
    return root


def run(command: list[str]) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (user+sys), peak RSS (bytes) and stdout of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    output, errors = child.stdout.read(), child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed: {output}{errors}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, output


def measure(command: list[str]) -> tuple[float, float, int, str]:
    """Median wall and CPU time, largest peak RSS over a few runs, and the last output."""
    runs = [run(command) for _ in range(REPEATS)]
    return (
        statistics.median(r[0] for r in runs),
        statistics.median(r[1] for r in runs),
        max(r[2] for r in runs),
        runs[-1][3],
    )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-evaluate-") as workdir:
        full = stage(Path(workdir) / "full")
        quarter = stage(Path(workdir) / "quarter", frames=21)
        frames = len(list((full / "01_RES").glob("mask*.tif")))
        cli = measure([*CLI, "evaluate", str(full), "01", "--json"])
        api = measure([*API, str(full)])
        api_quarter = measure([*API, str(quarter)])
        start_up = measure([sys.executable, "-c", "import ctc_submit.cli"])
    values = json.loads(cli[3])
    memory_ok = api[2] <= MAX_RSS_GROWTH * api_quarter[2]
    ok = cli[0] < TARGET_SECONDS and memory_ok and values["TRA"] == values["DET"] == 1.0
    print(f"DIC-C2DH-HeLa 01, {frames} frames 512x512, SEG+TRA+DET (median of {REPEATS} runs, each a fresh process):")
    print(
        f"  ctc-submit evaluate: wall {cli[0]:.2f} s (target < {TARGET_SECONDS:.0f} s), CPU {cli[1]:.2f} s, peak RSS {cli[2] / 2**20:.0f} MiB"
    )
    print(
        f"    of which importing the ctc-submit command group: wall {start_up[0]:.2f} s, CPU {start_up[1]:.2f} s, RSS {start_up[2] / 2**20:.0f} MiB"
    )
    print(
        f"  ctc_submit.evaluation.evaluate alone: wall {api[0]:.2f} s, CPU {api[1]:.2f} s, peak RSS {api[2] / 2**20:.0f} MiB"
    )
    print(
        f"    first 21 frames: peak RSS {api_quarter[2] / 2**20:.0f} MiB (max growth x{MAX_RSS_GROWTH}: {'OK' if memory_ok else 'FAIL'})"
    )
    print("  " + ", ".join(f"{name} {value:.6f}" for name, value in values.items()) + f"  {'OK' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
