"""How to share the cores between the network and the clustering: whole DIC-C2DH-HeLa 01 per split.

    python benchmarks/bench_cores.py [--precision fp32] [--splits 1+1 2+1 2+0]

A split ``N+P`` runs the network on N torch threads beside P clustering processes (0: clustering
in between frames, in the network's process). Each split runs in a fresh process with the
shipped model, so its time includes nothing of the others. ``core_plan`` picks the split that
wins here for each core count; the output names the CPU, the precision and the load so that
figures from different machines can be compared.
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
    parser.add_argument("--model", default=str(REPO_ROOT / "models" / f"{DATASET}.pt"))
    parser.add_argument("--data", default=str(REPO_ROOT.parent / "shared" / "ctc-data" / DATASET))
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--splits", nargs="+", default=["1+1", "2+1", "2+0"])
    arguments = parser.parse_args()
    from ctc_submit.model.compute import CpuReport

    print(json.dumps({"cpu": CpuReport.here().describe(), "cores": os.cpu_count(), "precision": arguments.precision}))
    with tempfile.TemporaryDirectory() as folder:
        for split in arguments.splits:
            threads, processes = split.split("+")
            load = os.getloadavg()[0]
            output = Path(folder) / split / "01_RES"
            command = [sys.executable, "-c", ONE_RUN, arguments.model, f"{arguments.data}/01", str(output),
                       arguments.precision, threads, processes]  # fmt: skip
            measured = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            print(json.dumps({"split": f"{threads} network threads + {processes} clustering processes",
                              "load_before": round(load, 2), **measured}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
