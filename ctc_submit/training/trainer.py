"""The training loop: random augmented clips, backpropagation through time, checkpoints, model selection.

Everything needed to continue (weights, optimiser, iteration, random generator of the sampler
and the augmentation, loss and score history, the best checkpoint so far) is checkpointed, so a
long CPU run can be stopped and resumed, session after session, without changing its outcome.
The model written is the checkpoint with the best pipeline score on the held-out block
(:mod:`ctc_submit.training.validation`), not the last one.
"""

from __future__ import annotations

import csv
import json
import platform
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ctc_submit.io import CTCInputError, file_sha256, write_atomically
from ctc_submit.model.compute import resolve_device
from ctc_submit.model.inference import load_model, save_weights
from ctc_submit.model.network import NetworkConfig, StackedHourglass
from ctc_submit.presets import Preset
from ctc_submit.training.data import TrainingSequence, sample_clip
from ctc_submit.training.objective import clips_objective
from ctc_submit.training.ranges import AugmentationRanges
from ctc_submit.training.validation import SCORES, PipelineValidation

CSV_COLUMNS = ["iteration", "train_loss", "seconds", "c", *SCORES, "score"]


@dataclass
class TrainingConfig:
    iterations: int = 40_000
    clip_length: int = 10
    crop_size: int = 256
    learning_rate: float = 1e-4
    learning_rate_drop_at: float = 0.5  # fraction of ``iterations`` after which the rate is divided by 10
    weight_decay: float = 1e-5
    max_instances: int = 32
    background_weight: float = 1.0
    neighbour_weighting: str = "pixels"  # loss.pair_loss: how a cell's push is averaged over its neighbours
    validate_every: int = 250
    checkpoint_every: int = 250
    seed: int = 0
    precision: str = "fp32"  # resolved: fp32, bf16 or fp16
    network: NetworkConfig = field(default_factory=NetworkConfig)


@dataclass
class History:
    """Per-iteration losses, validation scores, and the phases of a run resumed with other settings."""

    rows: list[dict] = field(default_factory=list)
    phases: list[dict] = field(default_factory=list)

    def start_phase(self, iteration: int, config: TrainingConfig, origin: dict | None = None) -> None:
        settings = {
            "clip_length": config.clip_length,
            "crop_size": config.crop_size,
            "learning_rate": config.learning_rate,
            "background_weight": config.background_weight,
            "neighbour_weighting": config.neighbour_weighting,
            "precision": config.precision,
            "learning_rate_drop_at_iteration": int(config.learning_rate_drop_at * config.iterations),
            "until_iteration": config.iterations,
        }
        if origin:
            settings["init_from"] = origin
        if not self.phases or {k: v for k, v in self.phases[-1].items() if k != "from_iteration"} != settings:
            self.phases.append({"from_iteration": iteration, **settings})

    @property
    def validations(self) -> list[dict]:
        return [row for row in self.rows if row.get("score") not in (None, "")]

    def write_csv(self, path: Path) -> None:
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, restval="", extrasaction="ignore")
            writer.writeheader()
            writer.writerows(self.rows)


class TimeBudget:
    """Stop predicate for :func:`train`: true once the next iteration (and the validation and
    checkpoint it may bring) might not end before ``seconds`` have passed since the start."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.deadline = clock() + seconds
        self.last = clock()
        self.slowest = 0.0

    def __call__(self, done: int) -> bool:
        now = self.clock()
        self.slowest = max(self.slowest, now - self.last)
        self.last = now
        return now + 2 * self.slowest > self.deadline


def plot_history(history: History, path: Path) -> None:
    """Loss curve and validation scores as a PNG (skipped when matplotlib is not installed: the CSV has the data)."""
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
    axes.set_xlabel("iteration")
    axes.set_ylabel("cosine embedding loss (both hourglasses)")
    validated = history.validations
    if validated:
        scores = axes.twinx()
        for index, name in enumerate(("SEG", "SEG_ST", "TRA")):
            scores.plot(
                [row["iteration"] for row in validated],
                [row[name] for row in validated],
                "o-",
                color=f"C{index + 1}",
                label=f"held-out {name}",
            )
        scores.set_ylabel("pipeline score on the held-out block")
        scores.legend(loc="center right")
    axes.legend(loc="upper left")
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


def initial_weights(path: Path, network: StackedHourglass) -> tuple[dict[str, torch.Tensor], dict]:
    """Weights of a saved model for ``network`` to start from, and where they came from (recorded in the card).

    A network with more stateless levels than the saved one starts from its weights without the
    ConvGRUs of those levels: that is how a cheaper network is fine-tuned from a trained one.
    """
    saved, card = load_model(path, "cpu")
    config, source = network.config, saved.config
    if (
        replace(source, stateless_levels=config.stateless_levels) != config
        or source.stateless_levels > config.stateless_levels
    ):
        raise CTCInputError(f"{path}: its network ({source}) differs from the one to train ({config})")
    origin = {"model": Path(path).name, "sha256": file_sha256(path), "iterations_done": card.get("iterations_done")}
    if source != config:
        origin["recurrent_levels_dropped"] = list(range(source.stateless_levels, config.stateless_levels))
    wanted = network.state_dict()
    return {name: tensor for name, tensor in saved.state_dict().items() if name in wanted}, origin


@dataclass
class Best:
    """The checkpoint with the best validation score so far, as shipped (half-precision weights)."""

    iteration: int
    scores: dict
    weights: dict[str, torch.Tensor]


def train(
    sequences: list[TrainingSequence],
    validation: PipelineValidation | None,
    preset: Preset,
    config: TrainingConfig,
    out: Path,
    card: dict,
    device: str = "auto",
    resume: bool = False,
    init_from: Path | None = None,
    stop: Callable[[int], bool] | None = None,
    report: Callable[[int, float, dict | None], None] | None = None,
) -> dict:
    """Train and write the model (the best validated checkpoint), its card, loss CSV and plot; returns the card.

    ``stop(done)`` is asked after every iteration; when it says yes the run checkpoints and returns,
    to be continued with ``resume``. ``init_from`` starts a new run from a saved model's weights.
    """
    compute_device = resolve_device(device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    network = StackedHourglass(config.network).to(compute_device, memory_format=torch.channels_last).train()  # type: ignore[call-overload]  # torch's stubs omit memory_format
    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    paths = artefact_paths(out)
    history = History()
    best: Best | None = None
    start, elapsed, origin = 0, 0.0, None
    if resume:
        if not paths["checkpoint"].is_file():
            raise CTCInputError(f"{paths['checkpoint']}: no checkpoint to resume from")
        saved = torch.load(paths["checkpoint"], map_location=compute_device, weights_only=False)
        network.load_state_dict(saved["network"])
        optimizer.load_state_dict(saved["optimizer"])
        rng.bit_generator.state = saved["numpy_rng"]
        torch.set_rng_state(saved["torch_rng"])
        history.rows, history.phases = saved["history"], saved.get("phases", [])
        start, elapsed = saved["iteration"], saved["seconds"]
        best = Best(**saved["best"]) if saved.get("best") else None
    elif init_from is not None:
        weights, origin = initial_weights(init_from, network)
        network.load_state_dict(weights)
    history.start_phase(start, config, origin)
    ranges = AugmentationRanges()
    started = time.perf_counter() - elapsed

    def save(done: int) -> None:
        nonlocal card
        seconds = time.perf_counter() - started
        checkpoint = {
            "network": network.state_dict(),
            "optimizer": optimizer.state_dict(),
            "numpy_rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "history": history.rows,
            "iteration": done,
            "seconds": seconds,
            "phases": history.phases,
            "best": asdict(best) if best else None,
        }
        write_atomically(paths["checkpoint"], lambda target: torch.save(checkpoint, target))
        card = finished_card(card, config, history, compute_device, seconds, best)
        save_weights(out, config.network, best.weights if best else network.state_dict(), card)
        write_card(paths["card"], card)
        history.write_csv(paths["csv"])
        plot_history(history, paths["plot"])

    for iteration in range(start, config.iterations):
        if iteration >= config.learning_rate_drop_at * config.iterations:
            for group in optimizer.param_groups:
                group["lr"] = config.learning_rate / 10
        loss = training_step(network, optimizer, sequences, preset, config, ranges, rng, compute_device)
        done = iteration + 1
        row = {"iteration": done, "train_loss": loss, "seconds": round(time.perf_counter() - started, 2)}
        scores = None
        if validation is not None and (done % config.validate_every == 0 or done == config.iterations):
            scores = validation.score(network, compute_device)
            row.update({name: scores[name] for name in ("c", *SCORES, "score")})
            if best is None or scores["score"] > best.scores["score"]:
                weights = {name: tensor.detach().cpu().half() for name, tensor in network.state_dict().items()}
                best = Best(done, {key: value for key, value in scores.items() if key != "by_c"}, weights)
        history.rows.append(row)
        if report:
            report(done, loss, scores)
        stopping = stop is not None and done < config.iterations and stop(done)
        if done % config.checkpoint_every == 0 or done == config.iterations or stopping:
            save(done)
        if stopping:
            break
    return card


def training_step(
    network: StackedHourglass,
    optimizer: torch.optim.Optimizer,
    sequences: list[TrainingSequence],
    preset: Preset,
    config: TrainingConfig,
    ranges: AugmentationRanges,
    rng: np.random.Generator,
    device: torch.device,
) -> float:
    """One optimiser step on one augmented clip; returns its loss (what the training benchmark times)."""
    crop = (config.crop_size, config.crop_size)
    images, labels = sample_clip(sequences, config.clip_length, preset.network_scale, crop, ranges, rng)
    batch = torch.from_numpy(images.astype(np.float32))[None, :, None].to(device)
    objective = (preset.r_n, config.max_instances, config.background_weight, config.precision, rng)
    loss = clips_objective(network, batch, labels[None], *objective, config.neighbour_weighting)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.item())


def finished_card(
    card: dict, config: TrainingConfig, history: History, device: torch.device, seconds: float, best: Best | None
) -> dict:
    """The model card: what was trained, on what, how long, the validation scores and the checkpoint chosen."""
    tail = history.rows[-100:]
    validated = [{name: row[name] for name in ("iteration", "c", *SCORES, "score")} for row in history.validations]
    chosen = None
    if best is not None:
        chosen = {"iteration": best.iteration, **best.scores}
    overrides = dict(card.get("preset_overrides", {}))
    if best is not None:
        overrides["c"] = best.scores["c"]
    return {
        **card,
        "preset_overrides": overrides,
        "training": {**asdict(config), "network": config.network.to_dict()},
        "phases": history.phases,
        "iterations_done": history.rows[-1]["iteration"] if history.rows else 0,
        "device": f"{device.type} ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
        if device.type == "cpu"
        else f"{device.type} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else device.type})",
        "wall_time_s": round(seconds, 1),
        "final_train_loss_mean_last_100": float(np.mean([row["train_loss"] for row in tail])) if tail else None,
        "validation_scores": validated,
        "chosen_checkpoint": chosen,
        "torch": str(torch.__version__),
    }


def write_card(path: Path, card: dict) -> None:
    text = json.dumps(card, indent=2, default=str) + "\n"
    write_atomically(Path(path), lambda target: target.write_text(text))
