"""Speed and quality of ``ctc-submit run``, fast against exact clustering, on DIC-C2DH-HeLa 01.

    python benchmarks/bench_pipeline.py [--model models/DIC-C2DH-HeLa.pt] [--exact-frames 20]
    python benchmarks/bench_pipeline.py --synthetic      # no model: synthetic embeddings of the silver truth

With a model, each measurement is the user's command, ``ctc-submit run``, in its own process (so
its peak memory is its own), read back from its run report:
1. fast clustering on the whole sequence (network included): wall time, per-stage times, peak
   memory, SEG/TRA/DET;
2. fast and exact clustering on the same first ``--exact-frames`` frames (exact is too slow for
   the whole sequence on a small machine), with the GT cut to those frames.

With ``--synthetic`` the network is replaced by perfect embeddings plus noise (one unit vector per
tracked object of the silver truth), which measures everything after the network.

The goal on a 2-core machine: the whole sequence, network included, in at most 60 s with SEG and
TRA no worse than exact clustering. The load average is printed: another job on the machine
slows every stage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))  # the layout and synthetic-embedding helpers of the tests

from _runs import run_command, summarise  # noqa: E402
from ctc_layout import copy_first_frames  # noqa: E402
from synthetic import overlapping_pairs, synthetic_sequence  # noqa: E402

from ctc_submit.evaluation import evaluate  # noqa: E402
from ctc_submit.io import list_frames  # noqa: E402
from ctc_submit.model.compute import CpuReport  # noqa: E402
from ctc_submit.pipeline import track_pairs  # noqa: E402
from ctc_submit.presets import get_preset  # noqa: E402
from ctc_submit.resources import peak_memory_mib  # noqa: E402

DATASET = "DIC-C2DH-HeLa"


def options(arguments: argparse.Namespace, clustering: str = "fast") -> list[str]:
    """The dataset and options of ``ctc-submit run`` for the chosen model, device and precision."""
    return [
        DATASET, "--model", arguments.model, "--clustering", clustering,
        "--device", arguments.device, "--precision", arguments.precision,
    ]  # fmt: skip


def with_model(arguments: argparse.Namespace, work: Path) -> dict:
    data = Path(arguments.data)
    results = {}
    results["fast, whole sequence"] = summarise(
        run_command(data / "01", work / "whole" / "01_RES", *options(arguments))
    )
    print(json.dumps(results, indent=2), flush=True)
    if not arguments.exact_frames:
        return results
    first = work / "first" / DATASET
    copy_first_frames(data, first, "01", arguments.exact_frames)
    for clustering in ("fast", "exact"):
        key = f"{clustering}, first {arguments.exact_frames} frames"
        report = run_command(first / "01", first / "01_RES", *options(arguments, clustering))
        results[key] = summarise(report)
        print(json.dumps({key: results[key]}, indent=2), flush=True)
    return results


def synthetic(arguments: argparse.Namespace, work: Path) -> dict:
    """Everything after the network, on synthetic embeddings: fast on all frames, both modes on the first ones."""
    data = Path(arguments.data)
    preset = get_preset(DATASET)
    count = len(list_frames(data / "01"))
    results = {}
    for clustering, frames in (("fast", count), ("fast", arguments.exact_frames), ("exact", arguments.exact_frames)):
        embeddings = [embedding for _, embedding in synthetic_sequence(data / "01", range(frames))]
        layout = work / f"{clustering}{frames}" / DATASET
        copy_first_frames(data, layout, "01", frames)
        started = time.perf_counter()
        pairs = overlapping_pairs(embeddings)
        result = track_pairs(pairs, (512, 512), preset, layout / "01_RES", 3, clustering, jobs=os.cpu_count() or 1)
        wall = time.perf_counter() - started
        key = f"{clustering}, {frames} frames (synthetic embeddings)"
        results[key] = {
            "wall_s": round(wall, 2),
            "clustering_s_per_pair": round(result.seconds["clustering"] / max(frames - 1, 1), 3),
            "timings_s": {stage: round(seconds, 3) for stage, seconds in result.seconds.items()},
            "counts": {"objects": result.objects, "tracks": len(result.tracks), "divisions": result.divisions},
            "scores": evaluate(layout, "01", layout / "01_RES"),
        }
        print(json.dumps({key: results[key]}, indent=2), flush=True)
    results["peak_memory_mib (this process, embeddings held)"] = round(peak_memory_mib(), 1)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(REPO_ROOT / "models" / f"{DATASET}.pt"))
    parser.add_argument("--data", default=str(REPO_ROOT.parent / "shared" / "ctc-data" / DATASET))
    parser.add_argument("--exact-frames", type=int, default=20, help="0: skip the fast/exact comparison")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    parser.add_argument("--synthetic", action="store_true", help="No network: synthetic embeddings of silver truth.")
    parser.add_argument("--json", help="Also write the results to this file.")
    arguments = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        results = (synthetic if arguments.synthetic else with_model)(arguments, Path(folder))
    results["machine"] = {
        "cpus": os.cpu_count(),
        "cpu": CpuReport.here().describe(),
        "load_average_1min_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "numpy": np.__version__,
    }
    print(json.dumps(results["machine"]))
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
