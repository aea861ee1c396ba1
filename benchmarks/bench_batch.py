"""Wall time of ``ctc-submit batch`` against the same sequences run one after another.

    python benchmarks/bench_batch.py [--frames 84] [--sequences 01 02] [--workers auto 2]

The sequences (the first ``--frames`` frames of DIC-C2DH-HeLa 01, with its GT, and 02) are copied
into a temporary challenge layout. The baseline is ``ctc-submit run`` on each in turn, each with all
the cores; then ``ctc-submit batch`` on the layout for each ``--workers`` setting (``auto``: sized
to the machine), each from scratch. Everything runs the shipped model on the CPU. The load average
before each measurement is printed: on a shared machine another job slows every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATASET = "DIC-C2DH-HeLa"
sys.path.insert(0, str(REPO_ROOT / "tests"))


def layout(source: Path, root: Path, sequences: list[str], frames: int) -> Path:
    from ctc_layout import copy_first_frames

    for sequence in sequences:
        copy_first_frames(source, root / DATASET, sequence, frames, with_gt=(source / f"{sequence}_GT").is_dir())
    return root


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(REPO_ROOT / "models" / f"{DATASET}.pt"))
    parser.add_argument("--data", default=str(REPO_ROOT.parent / "shared" / "ctc-data" / DATASET))
    parser.add_argument("--sequences", nargs="+", default=["01", "02"])
    parser.add_argument("--frames", type=int, default=84)
    parser.add_argument("--workers", nargs="+", default=["auto", "2"])
    arguments = parser.parse_args()
    from ctc_submit.model.compute import CpuReport

    cli = [sys.executable, "-m", "ctc_submit.cli"]
    common = ["--model", arguments.model, "--device", "cpu"]
    print(json.dumps({"cpu": CpuReport.here().describe(), "cores": len(os.sched_getaffinity(0)),
                      "sequences": arguments.sequences, "frames": arguments.frames}), flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        root = layout(Path(arguments.data), Path(folder) / "data", arguments.sequences, arguments.frames)
        load = os.getloadavg()[0]
        seconds = [
            timed(
                [
                    *cli,
                    "run",
                    str(root / DATASET / name),
                    str(root / DATASET / f"{name}_RES"),
                    "--dataset",
                    DATASET,
                    *common,
                ]
            )  # fmt: skip
            for name in arguments.sequences
        ]
        sequential = sum(seconds)
        print(json.dumps({"one after another": round(sequential, 1), "per sequence": [round(s, 1) for s in seconds],
                          "load_before": round(load, 2)}), flush=True)  # fmt: skip
        for workers in arguments.workers:
            for result in root.glob(f"{DATASET}/*_RES*"):
                shutil.rmtree(result) if result.is_dir() else result.unlink()
            load = os.getloadavg()[0]
            sizing = [] if workers == "auto" else ["--workers", workers]
            batch = timed([*cli, "batch", str(root), *common, *sizing])
            print(json.dumps({"batch": round(batch, 1), "workers": workers, "against one after another":
                              round(batch / sequential, 2), "load_before": round(load, 2)}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
