"""A model's pipeline scores on the held-out block of sequence 01 (DIC-C2DH-HeLa by default; --data for another), as training's validation computes them.

    python benchmarks/bench_heldout.py [--model models/DIC-C2DH-HeLa.pt] [--held-out 21-40] [--c 0.0025,0.01]

The block (default frames 21-40: five gold segmentations) is laid out challenge-style and run
through the whole pipeline with the model's recurrent window; SEG is scored against the gold
truth and against the silver truth of every frame, with TRA and DET, for each spatial weight c
(default: the model card's). A model whose training clips touched the block (the shipped model
before this validation existed was trained on frames 0-75) scores optimistically here.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from ctc_submit.model.compute import CpuReport, resolve_precision
from ctc_submit.tracker import load
from ctc_submit.training.validation import HeldOutBlock, PipelineValidation, lay_out_block

REPO_ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(REPO_ROOT / "models" / "DIC-C2DH-HeLa.pt"))
    parser.add_argument("--data", default=str(REPO_ROOT.parent / "shared" / "ctc-data" / "DIC-C2DH-HeLa"))
    parser.add_argument("--held-out", default="21-40")
    parser.add_argument("--c", help="comma-separated spatial weights (default: the card's)")
    parser.add_argument("--precision", default="auto")
    arguments = parser.parse_args()
    model = load(Path(arguments.model), device="cpu")
    c_values = tuple(float(value) for value in arguments.c.split(",")) if arguments.c else (model.preset.c,)
    precision = resolve_precision(arguments.precision, torch.device("cpu"))
    block = HeldOutBlock.parse(arguments.held_out)
    with tempfile.TemporaryDirectory() as folder:
        gold, silver = lay_out_block(Path(arguments.data), "01", block, Path(folder))
        started = time.perf_counter()
        validation = PipelineValidation(gold, silver, model.preset, c_values, model.card.recurrent_window, precision)
        scores = validation.score(model.network, torch.device("cpu"))
    print(json.dumps({
        "model": arguments.model, "held_out": block.describe(), "cpu": CpuReport.here().describe(),
        "precision": precision, "seconds": round(time.perf_counter() - started, 1), **scores,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
