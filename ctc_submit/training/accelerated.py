"""Training on a rented GPU for a fixed time: batches of clips, torch augmentation, weights handed back.

    python -m ctc_submit.training.accelerated PACK.npz OUT.pt --minutes 8 [--init-from MODEL.pt] ...

A GPU is lent for minutes, with only torch, numpy and scipy, and receives the working tree alone.
So this runs from a training pack (:mod:`ctc_submit.training.pack`), augments on the device,
trains with a batch of clips per step (what keeps a large GPU busy), stops before the time is up
and writes a model file that ``ctc-submit train --init-from OUT.pt`` continues on the CPU
machine, where the held-out pipeline validation chooses among checkpoints.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from ctc_submit.model.compute import resolve_device, resolve_precision
from ctc_submit.model.inference import load_model, save_weights
from ctc_submit.model.network import NetworkConfig, StackedHourglass
from ctc_submit.presets import get_preset
from ctc_submit.training.loss import NEIGHBOUR_WEIGHTINGS
from ctc_submit.training.objective import clips_objective
from ctc_submit.training.pack import Run, load_pack
from ctc_submit.training.ranges import AugmentationRanges
from ctc_submit.training.torch_augment import augment_clips


def draw_clips(runs: list[tuple[torch.Tensor, torch.Tensor]], count: int, length: int, rng: np.random.Generator):
    """``count`` random clips of ``length`` frames, every possible clip equally likely."""
    starts = np.array([max(len(images) - length + 1, 0) for images, _ in runs])
    images, labels = [], []
    for run in rng.choice(len(runs), size=count, p=starts / starts.sum()):
        start = int(rng.integers(0, starts[run]))
        images.append(runs[run][0][start : start + length])
        labels.append(runs[run][1][start : start + length])
    return images, labels


def train_for(
    runs: list[Run],
    dataset: str,
    network: StackedHourglass,
    out: Path,
    minutes: float,
    batch: int,
    clip_length: int,
    crop_size: int,
    learning_rate: float,
    background_weight: float,
    precision: str,
    device: torch.device,
    seed: int = 0,
    save_every_minutes: float = 2.0,
    neighbour_weighting: str = "pixels",
) -> dict:
    """Train until ``minutes`` are nearly up; writes OUT (fp16 weights + card) and OUT's loss CSV; returns the card."""
    started = time.monotonic()
    preset = get_preset(dataset)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    on_device = [(torch.from_numpy(images).to(device), torch.from_numpy(labels).to(device)) for images, labels in runs]
    network = network.to(device, memory_format=torch.channels_last).train()  # type: ignore[call-overload]  # torch's stubs omit memory_format
    optimizer = torch.optim.Adam(network.parameters(), lr=learning_rate, weight_decay=1e-5)
    ranges = AugmentationRanges()
    losses: list[tuple[int, float, float]] = []
    slowest, last_save, iteration = 0.0, started, 0
    card: dict = {}

    def save() -> None:
        nonlocal card
        card = {
            "dataset": preset.name,
            "training": {
                "route": "accelerated", "batch": batch, "clip_length": clip_length, "crop_size": crop_size,
                "learning_rate": learning_rate, "background_weight": background_weight, "precision": precision,
                "neighbour_weighting": neighbour_weighting, "iterations": iteration, "clips_seen": iteration * batch, "seed": seed,
            },
            "iterations_done": iteration,
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"{device.type} ({platform.machine()})",
            "wall_time_s": round(time.monotonic() - started, 1),
            "final_train_loss_mean_last_100": float(np.mean([loss for _, loss, _ in losses[-100:]])) if losses else None,
            "torch": str(torch.__version__),
        }  # fmt: skip
        save_weights(out, network.config, network.state_dict(), card)
        with open(out.with_name(out.stem + "_loss.csv"), "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["iteration", "train_loss", "seconds"])
            writer.writerows(losses)

    deadline = started + minutes * 60
    while True:
        tick = time.monotonic()
        images, labels = draw_clips(on_device, batch, clip_length, rng)
        clips, clip_labels = augment_clips(images, labels, preset.network_scale, (crop_size, crop_size), ranges, rng)
        loss = clips_objective(
            network, clips, clip_labels.cpu().numpy(), preset.r_n, 32, background_weight, precision, rng, neighbour_weighting
        )  # fmt: skip
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        iteration += 1
        now = time.monotonic()
        losses.append((iteration, float(loss.item()), round(now - started, 2)))
        slowest = max(slowest, now - tick)
        if now + 2 * slowest + 5 > deadline:
            break
        if now - last_save > save_every_minutes * 60:
            save()
            last_save = time.monotonic()
    save()
    return card


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pack", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--minutes", type=float, required=True, help="wall-clock budget, start-up included")
    parser.add_argument("--init-from", type=Path, help="start from this model's weights and network")
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--levels", type=int, default=7)
    parser.add_argument("--stateless-levels", type=int, default=0)
    parser.add_argument("--batch", type=int, default=8, help="clips per step")
    parser.add_argument("--clip-length", type=int, default=10)
    parser.add_argument("--crop-size", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--background-weight", type=float, default=1.0)
    parser.add_argument("--neighbour-weighting", choices=NEIGHBOUR_WEIGHTINGS, default="pixels")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args(argv)
    runs, description = load_pack(arguments.pack)
    device = resolve_device(arguments.device)
    if arguments.init_from:
        network, _ = load_model(arguments.init_from, "cpu")
    else:
        network = StackedHourglass(
            NetworkConfig(
                filters=arguments.filters, levels=arguments.levels, stateless_levels=arguments.stateless_levels
            )
        )
    card = train_for(
        runs, description["dataset"], network, arguments.out, arguments.minutes, arguments.batch,
        arguments.clip_length, arguments.crop_size, arguments.learning_rate, arguments.background_weight,
        resolve_precision(arguments.precision, device), device, arguments.seed,
        neighbour_weighting=arguments.neighbour_weighting,
    )  # fmt: skip
    print(json.dumps({"pack": description, **card}, indent=1))


if __name__ == "__main__":
    main()
