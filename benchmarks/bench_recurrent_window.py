"""How long may the recurrent state run? Pair loss of a model along a real sequence, per state window.

    python benchmarks/bench_recurrent_window.py --model models/DIC-C2DH-HeLa.pt \\
        --data ../shared/ctc-data/DIC-C2DH-HeLa --windows none 8,2 6,3 4,2

For each window (restart every HOP frames after WARMUP frames; `none` = state carried through the
whole video) it embeds the sequence as the tracker does and reports the cosine embedding loss of
every 4th frame pair against the ground truth, over the first and second half of the video, and
the time. A loss that grows along the video means the state drifts; the model card's
``recurrent_window`` is chosen from this table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from _sequence import sequence_on_grid

from ctc_submit.model.inference import RecurrentWindow, embed_pairs, load_model
from ctc_submit.presets import get_preset
from ctc_submit.training.loss import clip_loss


def parse_window(text: str) -> RecurrentWindow | None:
    if text == "none":
        return None
    hop, warmup = (int(part) for part in text.split(","))
    return RecurrentWindow(hop, warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/DIC-C2DH-HeLa.pt")
    parser.add_argument("--data", default="../shared/ctc-data/DIC-C2DH-HeLa")
    parser.add_argument("--sequence", default="01")
    parser.add_argument("--windows", nargs="+", default=["none", "8,2", "6,3", "4,2"])
    arguments = parser.parse_args()
    network, card = load_model(arguments.model, "cpu")
    preset = get_preset(card["dataset"])
    frames, labels = sequence_on_grid(Path(arguments.data), arguments.sequence, preset)
    print(f"{'window':>10} {'pair loss':>9} {'1st half':>9} {'2nd half':>9} {'time s':>7}")
    for text in arguments.windows:
        started = time.perf_counter()
        losses = []
        for index, pair in enumerate(embed_pairs(frames, network, "cpu", parse_window(text)), start=1):
            if index % 4 == 0:
                pair_labels = labels[index - 1 : index + 1]
                losses.append(
                    clip_loss(torch.from_numpy(pair), pair_labels, preset.r_n, 32, np.random.default_rng(0)).item()
                )
        half = len(losses) // 2
        print(
            f"{text:>10} {np.mean(losses):9.3f} {np.mean(losses[:half]):9.3f} {np.mean(losses[half:]):9.3f}"
            f" {time.perf_counter() - started:7.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
