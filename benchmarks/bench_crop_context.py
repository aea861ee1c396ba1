"""How much image around a cell does a model need? Its loss and embeddings on crops against full frames.

    python benchmarks/bench_crop_context.py --model models/DIC-C2DH-HeLa.pt \\
        --data ../shared/ctc-data/DIC-C2DH-HeLa --crops 128 192

Clips of 8 frames of sequence 01 (on the 256x256 grid, state carried) go through the model whole
and as centred square crops. For each crop size it reports the cosine embedding loss of the crop's
frame pairs against the ground truth, the same loss of the full frames' embeddings cut to that
crop, and the cosine between the crop's and the full frames' embeddings of each pixel by its
distance to the crop's edge. Where the cosine stays low far inside the crop, a pixel's embedding
depends on image-wide context (the deepest levels see the whole crop), not on padding at its edge:
a model trained on crops of one size then meets other statistics on the full frames.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from _sequence import sequence_on_grid

from ctc_submit.model.inference import load_model
from ctc_submit.normalize import NETWORK_SIZE
from ctc_submit.presets import get_preset
from ctc_submit.training.loss import clip_loss

CLIP = 8
BANDS = [(0, 8), (8, 16), (16, 32), (32, 64), (64, 128)]


def embed(network: torch.nn.Module, clip: np.ndarray) -> torch.Tensor:
    """Second-hourglass embeddings (T, E, H, W) of a clip (T, H, W), state carried."""
    state, outputs = None, []
    with torch.no_grad():
        for frame in clip:
            _, embeddings, state = network(torch.from_numpy(np.ascontiguousarray(frame))[None, None], state)
            outputs.append(embeddings[0])
    return torch.stack(outputs)


def edge_distance(size: int) -> np.ndarray:
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    return np.minimum.reduce([rows, cols, size - 1 - rows, size - 1 - cols])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/DIC-C2DH-HeLa.pt")
    parser.add_argument("--data", default="../shared/ctc-data/DIC-C2DH-HeLa")
    parser.add_argument("--crops", nargs="+", type=int, default=[128, 192])
    parser.add_argument("--starts", nargs="+", type=int, default=[0, 20, 40, 60], help="first frames of the clips")
    arguments = parser.parse_args()
    network, card = load_model(arguments.model, "cpu")
    network = network.float()
    preset = get_preset(card["dataset"])
    frames, labels = sequence_on_grid(Path(arguments.data), "01", preset)

    def loss(embeddings: torch.Tensor, clip_labels: np.ndarray) -> float:
        return clip_loss(embeddings, clip_labels, preset.r_n, 32, np.random.default_rng(0)).item()

    header = " ".join(f"{f'cos {low}-{high}px':>12}" for low, high in BANDS)
    print(f"{'input':>10} {'loss':>7} {'full, cut':>9} {header}")
    wholes = {start: embed(network, frames[start : start + CLIP]) for start in arguments.starts}
    full_loss = np.mean([loss(wholes[start], labels[start : start + CLIP]) for start in arguments.starts])
    print(f"{'256 (full)':>10} {full_loss:7.3f} {full_loss:9.3f}")
    for size in arguments.crops:
        corner = (NETWORK_SIZE[0] - size) // 2
        window = np.s_[corner : corner + size, corner : corner + size]
        distance = edge_distance(size)
        losses, cut_losses, cosines = [], [], []
        for start, whole in wholes.items():
            clip_labels = labels[start : start + CLIP][(slice(None),) + window]
            crop = embed(network, frames[start : start + CLIP][(slice(None),) + window])
            cut = whole[(slice(None), slice(None)) + window]
            losses.append(loss(crop, clip_labels))
            cut_losses.append(loss(cut, clip_labels))
            cosines.append((crop * cut).sum(1).mean(0).numpy())
        cosine = np.mean(cosines, axis=0)
        bands = " ".join(
            f"{cosine[(distance >= low) & (distance < high)].mean():12.2f}"
            if ((distance >= low) & (distance < high)).any()
            else f"{'':>12}"
            for low, high in BANDS
        )
        print(f"{size:>10} {np.mean(losses):7.3f} {np.mean(cut_losses):9.3f} {bands}", flush=True)


if __name__ == "__main__":
    main()
