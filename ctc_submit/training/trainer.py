"""The training loop: random augmented clips, backpropagation through time, checkpoints.

Everything needed to continue (weights, optimiser, iteration, random generators, loss history)
is checkpointed, so a long CPU run can be stopped and resumed without changing its outcome.
"""

from __future__ import annotations

import csv
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ctc_submit.model.compute import autocast, resolve_device, resolve_precision
from ctc_submit.model.inference import save_model
from ctc_submit.model.network import NetworkConfig, StackedHourglass
from ctc_submit.normalize import NETWORK_SIZE
from ctc_submit.presets import Preset
from ctc_submit.training.augment import NO_AUGMENTATION, AugmentationRanges, OutputGrid, augment_clip
from ctc_submit.training.data import TrainingSequence, sample_clip
from ctc_submit.training.loss import clip_loss


@dataclass
class TrainingConfig:
    iterations: int = 40_000
    clip_length: int = 10
    crop_size: int = 256
    learning_rate: float = 1e-4
    learning_rate_drop_at: float = 0.5
    weight_decay: float = 1e-5
    max_instances: int = 32
    background_weight: float = 1.0
    validation_frames: int = 8
    validate_every: int = 250
    checkpoint_every: int = 250
    seed: int = 0
    precision: str = "fp32"  # resolved: fp32, bf16 or fp16
    network: NetworkConfig = field(default_factory=NetworkConfig)


@dataclass
class History:
    """Per-iteration losses, and the phases of a run resumed with other settings (e.g. larger crops)."""

    rows: list[dict] = field(default_factory=list)
    phases: list[dict] = field(default_factory=list)

    def start_phase(self, iteration: int, config: TrainingConfig) -> None:
        settings = {
            "clip_length": config.clip_length,
            "crop_size": config.crop_size,
            "learning_rate": config.learning_rate,
            "background_weight": config.background_weight,
            "learning_rate_drop_at_iteration": int(config.learning_rate_drop_at * config.iterations),
            "until_iteration": config.iterations,
        }
        if not self.phases or {k: v for k, v in self.phases[-1].items() if k != "from_iteration"} != settings:
            self.phases.append({"from_iteration": iteration, **settings})

    def write_csv(self, path: Path) -> None:
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["iteration", "train_loss", "validation_loss", "seconds"])
            writer.writeheader()
            writer.writerows(self.rows)


def forward_clip(network: StackedHourglass, images: torch.Tensor, precision: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Run a clip (T, 1, H, W) through time; returns both hourglasses' embeddings (T, E, H, W)."""
    state = None
    first, second = [], []
    with autocast(images.device, precision):
        for frame in images:
            a, b, state = network(frame[None].contiguous(memory_format=torch.channels_last), state)
            first.append(a)
            second.append(b)
    return torch.cat(first).float(), torch.cat(second).float()


def clip_objective(network, images, labels, preset: Preset, config: TrainingConfig, rng) -> torch.Tensor:
    """Loss on both hourglasses, so the first one learns embeddings worth feeding the second."""
    first, second = forward_clip(network, images, config.precision)
    return sum(
        clip_loss(embeddings, labels, preset.r_n, config.max_instances, rng, config.background_weight)
        for embeddings in (first, second)
    )


def validation_loss(network, sequence: TrainingSequence, preset: Preset, config: TrainingConfig, device) -> float:
    """Loss on the held-out frames at full network resolution, without augmentation."""
    grid = OutputGrid(NETWORK_SIZE, NETWORK_SIZE, (0, 0))
    rng = np.random.default_rng(0)
    images, labels = augment_clip(sequence.images, sequence.labels, grid, NO_AUGMENTATION, rng)
    network.eval()
    with torch.no_grad():
        loss = clip_objective(network, torch.from_numpy(images)[:, None].to(device), labels, preset, config, rng)
    network.train()
    return float(loss)


def plot_history(history: History, path: Path) -> None:
    """Loss curve PNG (skipped silently when matplotlib is not installed: the CSV has the data)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    iterations = np.array([row["iteration"] for row in history.rows])
    train = np.array([row["train_loss"] for row in history.rows], dtype=float)
    window = max(1, len(train) // 50)
    smooth = np.convolve(train, np.ones(window) / window, mode="valid")
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot(iterations, train, color="0.8", linewidth=0.5, label="train (per clip)")
    axes.plot(iterations[window - 1 :], smooth, color="C0", label=f"train (mean of {window})")
    validated = [(row["iteration"], row["validation_loss"]) for row in history.rows if row["validation_loss"] != ""]
    if validated:
        axes.plot(*zip(*validated), "o-", color="C1", label="validation")
    axes.set_xlabel("iteration")
    axes.set_ylabel("cosine embedding loss (both hourglasses)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def artefact_paths(out: Path) -> dict[str, Path]:
    return {
        "checkpoint": out.with_suffix(".ckpt"),
        "csv": out.with_name(out.stem + "_loss.csv"),
        "plot": out.with_name(out.stem + "_loss.png"),
        "card": out.with_suffix(".json"),
    }


def atomic_save(payload: dict, path: Path) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)


def train(
    sequences: list[TrainingSequence],
    validation: TrainingSequence | None,
    preset: Preset,
    config: TrainingConfig,
    out: Path,
    card: dict,
    device: str = "auto",
    resume: bool = False,
    report: Callable[[int, float, float | None], None] | None = None,
) -> dict:
    """Train and write the model, its card, loss CSV and plot; returns the card."""
    device = resolve_device(device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    network = StackedHourglass(config.network).to(device, memory_format=torch.channels_last).train()
    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    paths = artefact_paths(out)
    history = History()
    start, elapsed = 0, 0.0
    if resume and paths["checkpoint"].is_file():
        saved = torch.load(paths["checkpoint"], map_location=device, weights_only=False)
        network.load_state_dict(saved["network"])
        optimizer.load_state_dict(saved["optimizer"])
        rng.bit_generator.state = saved["numpy_rng"]
        torch.set_rng_state(saved["torch_rng"])
        history.rows = saved["history"]
        history.phases = saved.get("phases", [])
        start, elapsed = saved["iteration"], saved["seconds"]
    history.start_phase(start, config)
    ranges = AugmentationRanges()
    crop = (config.crop_size, config.crop_size)
    started = time.perf_counter() - elapsed
    validation_value: float | None = None
    for iteration in range(start, config.iterations):
        if iteration >= config.learning_rate_drop_at * config.iterations:
            for group in optimizer.param_groups:
                group["lr"] = config.learning_rate / 10
        images, labels = sample_clip(sequences, config.clip_length, NETWORK_SIZE, crop, ranges, rng)
        loss = clip_objective(network, torch.from_numpy(images.astype(np.float32))[:, None].to(device), labels, preset, config, rng)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        done = iteration + 1
        validation_value = None
        if validation is not None and (done % config.validate_every == 0 or done == config.iterations):
            validation_value = validation_loss(network, validation, preset, config, device)
        history.rows.append(
            {
                "iteration": done,
                "train_loss": loss.item(),
                "validation_loss": "" if validation_value is None else validation_value,
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
        if report:
            report(done, loss.item(), validation_value)
        if done % config.checkpoint_every == 0 or done == config.iterations:
            seconds = time.perf_counter() - started
            atomic_save(
                {
                    "network": network.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "numpy_rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(),
                    "history": history.rows,
                    "iteration": done,
                    "seconds": seconds,
                    "phases": history.phases,
                },
                paths["checkpoint"],
            )
            card = finished_card(card, config, history, device, seconds)
            save_model(out, network, card)
            write_card(paths["card"], card)
            history.write_csv(paths["csv"])
            plot_history(history, paths["plot"])
    return card


def finished_card(card: dict, config: TrainingConfig, history: History, device: torch.device, seconds: float) -> dict:
    """The model card: what was trained, on what, how long, and where the loss ended."""
    tail = history.rows[-100:]
    validated = [row["validation_loss"] for row in history.rows if row["validation_loss"] != ""]
    return {
        **card,
        "training": {**asdict(config), "network": config.network.to_dict()},
        "phases": history.phases,
        "iterations_done": history.rows[-1]["iteration"] if history.rows else 0,
        "device": f"{device.type} ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
        if device.type == "cpu"
        else f"cuda ({torch.cuda.get_device_name(device)})",
        "wall_time_s": round(seconds, 1),
        "final_train_loss_mean_last_100": float(np.mean([row["train_loss"] for row in tail])) if tail else None,
        "final_validation_loss": validated[-1] if validated else None,
        "torch": str(torch.__version__),
    }


def write_card(path: Path, card: dict) -> None:
    import json

    path.write_text(json.dumps(card, indent=2, default=str) + "\n")
