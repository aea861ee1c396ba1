"""How to share the cores between the network and the clustering: sequence 01 per split.

    python benchmarks/bench_cores.py [--dataset Fluo-N2DH-SIM+] [--frames 20] [--precision fp32]
        [--splits 1+1 2+1 2+0]

A split ``N+P`` runs the network on N torch threads beside P clustering processes (0: clustering
in between frames, in the network's process). Each split runs in a fresh process with the
shipped model (DIC-C2DH-HeLa by default; ``--frames N``: the first N frames only), so its time
includes nothing of the others. ``core_plan`` picks the split that wins here for each core count,
and for tiled datasets (``network_bound``); the output names the CPU, the precision and the load so
that figures from different machines can be compared.

On 2 AVX2 cores in fp32 (2026-12-02), whole DIC-HeLa 01: 1+1 56.8-71.7 s, 2+1 79.4 s, 2+0 72.5 s;
SIM+ 01, first 20 frames: 1+1 68.3-70.8 s, 2+1 50.6 s, 2+0 43.8-46.9 s (its clustering is idle
most of the time).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATASET = "DIC-C2DH-HeLa"

ONE_RUN = """
import json, sys, time
import torch
from pathlib import Path
started = time.perf_counter()
from ctc_submit.model.compute import resolve_precision
from ctc_submit.pipeline import CorePlan, run_pipeline
from ctc_submit.tracker import load
model, sequence, output, precision, threads, processes = sys.argv[1:7]
CorePlan(int(threads), int(processes), 1).apply()
chosen = resolve_precision(precision, torch.device("cpu"))
result = run_pipeline(Path(sequence), Path(output), load(Path(model), device="cpu"), workers=int(processes), precision=chosen)
print(json.dumps({"wall_s": round(time.perf_counter() - started, 2), "precision": chosen,
                  "stages_s": {k: round(v, 2) for k, v in result.seconds.items()},
                  "clustering_busy_s": round(result.clustering_seconds, 2)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=DATASET)
    parser.add_argument("--model", help="default: models/DATASET.pt")
    parser.add_argument("--data", help="default: ../shared/ctc-data/DATASET")
    parser.add_argument("--frames", type=int, help="only the first N frames of 01")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--splits", nargs="+", default=["1+1", "2+1", "2+0"])
    arguments = parser.parse_args()
    model = arguments.model or str(REPO_ROOT / "models" / f"{arguments.dataset}.pt")
    data = Path(arguments.data or REPO_ROOT.parent / "shared" / "ctc-data" / arguments.dataset)
    from ctc_submit.io import list_frames
    from ctc_submit.model.compute import CpuReport

    print(json.dumps({"cpu": CpuReport.here().describe(), "cores": os.cpu_count(), "precision": arguments.precision}))
    with tempfile.TemporaryDirectory() as folder:
        sequence = data / "01"
        if arguments.frames:
            sequence = Path(folder) / "01"
            sequence.mkdir()
            for frame in list_frames(data / "01")[: arguments.frames]:
                (sequence / frame.name).symlink_to(frame.resolve())
        for split in arguments.splits:
            threads, processes = split.split("+")
            load = os.getloadavg()[0]
            output = Path(folder) / split / "01_RES"
            command = [sys.executable, "-c", ONE_RUN, model, str(sequence), str(output),
                       arguments.precision, threads, processes]  # fmt: skip
            measured = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            print(json.dumps({"split": f"{threads} network threads + {processes} clustering processes",
                              "load_before": round(load, 2), **measured}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
