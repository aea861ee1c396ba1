"""``ctc-submit train``: train the recurrent stacked hourglass on CTC training sequences."""

from __future__ import annotations

import math
import signal
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import click
import torch

from ctc_submit.cli.errors import InputError, user_errors
from ctc_submit.cli.options import dataset_option, device_option, overwrite_option, precision_option
from ctc_submit.model.checks import MAX_LEVELS
from ctc_submit.model.compute import resolve_device, resolve_precision
from ctc_submit.model.inference import RecurrentWindow
from ctc_submit.model.network import NetworkConfig
from ctc_submit.normalize import NETWORK_SIZE
from ctc_submit.presets import get_preset
from ctc_submit.training.data import TrainingSequence
from ctc_submit.training.loss import NEIGHBOUR_WEIGHTINGS
from ctc_submit.training.trainer import TimeBudget, TrainingConfig, artefact_paths, train
from ctc_submit.training.validation import HeldOutBlock, PipelineValidation, lay_out_block

POSITIVE = click.IntRange(min=1)


def progress_reporter(total: int, every: int):
    """A line every ``every`` iterations with the loss, speed and time left, and each validation's scores."""
    started = time.perf_counter()
    first: list[int] = []

    def report(done: int, loss: float, scores: dict | None) -> None:
        if not first:
            first.append(done - 1)
        if done % every and scores is None and done != total:
            return
        rate = (done - first[0]) / max(time.perf_counter() - started, 1e-9)
        left = (total - done) / max(rate, 1e-9)
        text = f"[{done}/{total}] loss {loss:.4f}"
        if scores is not None:
            text += "  held-out " + " ".join(f"{name} {scores[name]:.3f}" for name in ("SEG", "SEG_ST", "TRA", "DET"))
            text += f" (c {scores['c']:g})"
        click.echo(f"{text}  {rate:.2f} it/s  {left / 60:.0f} min left", err=True)

    return report


def parse_window(text: str) -> dict | None:
    """``HOP,WARMUP`` -> {"hop": HOP, "warmup": WARMUP}; ``none`` -> None."""
    if text == "none":
        return None
    try:
        hop, warmup = (int(part) for part in text.split(","))
    except ValueError:
        raise InputError(f"--recurrent-window {text!r}: expected HOP,WARMUP (e.g. 8,2) or none") from None
    if hop < 1 or warmup < 0:
        raise InputError(f"--recurrent-window {text!r}: HOP must be at least 1 and WARMUP at least 0")
    return {"hop": hop, "warmup": warmup}


def parse_c_values(text: str, paper_value: float) -> tuple[float, ...]:
    """``0.0025,0.01`` -> (0.0025, 0.01); ``paper`` -> the preset's c divided by 8, 2 and 1."""
    if text == "paper":
        return (paper_value / 8, paper_value / 2, paper_value)
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise InputError(f"--validation-c {text!r}: expected comma-separated numbers, e.g. 0.0025,0.01") from None
    if not values or not all(math.isfinite(value) and value >= 0 for value in values):
        raise InputError(f"--validation-c {text!r}: values must be finite and >= 0")
    return values


class StopOnSignal:
    """Stop predicate for training: true once Ctrl-C, SIGTERM or SIGHUP (a closed terminal) arrived.

    The iteration under way ends and the run checkpoints before it returns, so a stopped run loses
    nothing and resumes exactly; a second signal aborts at once.
    """

    def __init__(self) -> None:
        self.signum: int | None = None

    def __enter__(self) -> StopOnSignal:
        names = ("SIGINT", "SIGTERM", "SIGHUP")
        self.previous = {
            getattr(signal, name): signal.signal(getattr(signal, name), self._note)
            for name in names
            if hasattr(signal, name)
        }
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def _note(self, signum: int, frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        click.echo(f"{signal.Signals(signum).name}: stopping after this iteration, with a checkpoint", err=True)

    def __call__(self, done: int) -> bool:
        return self.signum is not None


def check_output(out: Path, resume: bool, overwrite: bool) -> None:
    """Before any data is loaded: the output place is writable, nothing is overwritten unasked, a resume has its checkpoint."""
    checkpoint = artefact_paths(out)["checkpoint"]
    if resume and not checkpoint.is_file():
        raise InputError(f"--resume: {checkpoint}: no checkpoint to resume from")
    if not resume and not overwrite and (out.exists() or checkpoint.exists()):
        raise InputError(f"{out}: already exists; pass --resume to continue that run or --overwrite to start anew")
    if out.is_dir():
        raise InputError(f"{out}: is a folder; --out names the model file to write")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out.parent):
            pass
    except OSError as error:
        raise InputError(f"{out.parent}: cannot write the model there ({error.strerror or error})") from None


def check_numbers(learning_rate: float, background_weight: float, crop_size: int, levels: int) -> None:
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise InputError(f"--learning-rate {learning_rate}: must be a finite number > 0")
    if not (math.isfinite(background_weight) and background_weight >= 0):
        raise InputError(f"--background-weight {background_weight}: must be a finite number >= 0")
    divisor = NetworkConfig(levels=levels).divisor
    if crop_size % divisor or crop_size > NETWORK_SIZE[0]:
        raise InputError(
            f"--crop-size {crop_size}: must divide by {divisor} (2^(levels-1)) and be at most {NETWORK_SIZE[0]}"
        )


@click.command("train", short_help="Train a model on annotated CTC sequences.")
@dataset_option("Dataset name or short name (sets r_N, normalisation and clustering values), e.g. DIC-C2DH-HeLa.")
@click.option(
    "--data", "data_dir", required=True, type=click.Path(path_type=Path), help="CTC training folder of that dataset."
)
@click.option("--sequences", default="01", show_default=True, help="Comma-separated sequences to train on.")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Model file to write (.pt): the best validated checkpoint. Beside it: OUT.json (card), "
    "OUT.ckpt (to resume), OUT_loss.csv and OUT_loss.png.",
)
@overwrite_option("Start anew even if OUT or its checkpoint exists.")
@click.option("--resume", is_flag=True, help="Continue exactly where OUT's checkpoint (.ckpt) stopped.")
@click.option(
    "--init-from",
    type=click.Path(path_type=Path),
    help="Start from this model's weights (fine-tuning, or a run moved to another machine).",
)
@click.option("--iterations", default=40_000, show_default=True, type=POSITIVE, help="Total iterations of the run.")
@click.option(
    "--clip-length", default=10, show_default=True, type=POSITIVE, help="Consecutive frames per training clip."
)
@click.option(
    "--crop-size",
    default=256,
    show_default=True,
    type=POSITIVE,
    help="Random square crop of the network grid (256x256, or the frame scaled by the preset's network_scale).",
)
@click.option(
    "--network-scale",
    type=click.FloatRange(0.0, 4.0),
    default=None,
    help="Network-grid pixels per original pixel, 0 for the whole frame at 256x256 [default: the preset's]. "
    "The model's card keeps it for inference; keep it when resuming.",
)
@click.option("--filters", default=64, show_default=True, type=POSITIVE, help="Filters per convolution.")
@click.option(
    "--levels", default=7, show_default=True, type=click.IntRange(1, MAX_LEVELS), help="Levels of each hourglass."
)
@click.option("--embedding-size", default=16, show_default=True, type=POSITIVE, help="Dimensions of the embeddings.")
@click.option(
    "--stateless-levels",
    default=0,
    show_default=True,
    type=click.IntRange(0, MAX_LEVELS - 1),
    help="The finest levels of each hourglass with no ConvGRU (level 0 alone is more than half of a step's "
    "cost). With --init-from a model that has them, their GRUs are dropped.",
)
@click.option(
    "--learning-rate",
    default=1e-4,
    show_default=True,
    type=float,
    help="Adam; divided by 10 at half of the iterations.",
)
@click.option(
    "--background-weight",
    default=1.0,
    show_default=True,
    type=float,
    help="Extra weight of the background's pull term (0: the paper's loss).",
)
@click.option(
    "--neighbour-weighting",
    default="pixels",
    show_default=True,
    type=click.Choice(NEIGHBOUR_WEIGHTINGS),
    help="How a cell's push away from its neighbours is averaged: over their pixels (the background, a neighbour "
    "of every cell, then outweighs a touching cell) or over the neighbours, each counted once.",
)
@click.option(
    "--recurrent-window",
    default="none",
    show_default=True,
    help="HOP,WARMUP stored in the card (and used in validation): at inference restart the state every HOP frames "
    "after WARMUP frames (for models trained on short clips); none: carry it through the video.",
)
@click.option(
    "--max-frames", type=POSITIVE, default=None, help="Use only the first N frames of each sequence (quick trials)."
)
@click.option(
    "--held-out",
    default="21-40",
    show_default=True,
    help="FIRST-LAST frames of the first sequence kept for validation (the whole pipeline, scored), or none.",
)
@click.option(
    "--held-out-margin",
    default=2,
    show_default=True,
    type=click.IntRange(min=0),
    help="Frames on each side of the held-out block that no training clip touches either.",
)
@click.option(
    "--validation-c",
    default="paper",
    show_default=True,
    help="Spatial weights c tried in validation (the best goes into the card): comma-separated, or paper (c/8, c/2, c).",
)
@click.option(
    "--validate-every",
    default=250,
    show_default=True,
    type=POSITIVE,
    help="Iterations between validations on the held-out block (each costs a pipeline run).",
)
@click.option(
    "--checkpoint-every",
    default=250,
    show_default=True,
    type=POSITIVE,
    help="Iterations between checkpoints (OUT.ckpt) that --resume continues from.",
)
@click.option(
    "--time-budget",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Minutes: stop with a checkpoint before this much time has passed (continue with --resume).",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Seed of the weights, the clip sampler and the augmentation: one seed, one run.",
)
@precision_option
@device_option
@click.option(
    "--threads", type=POSITIVE, default=None, help="CPU threads (default: all cores; 1 leaves a core to other work)."
)
@click.option("--log-every", default=25, show_default=True, type=POSITIVE, help="Iterations between progress lines.")
@user_errors
def command(dataset, data_dir, sequences, out, overwrite, resume, init_from, iterations, clip_length, crop_size,
            network_scale, filters,
            levels, embedding_size, stateless_levels, learning_rate, background_weight, neighbour_weighting, recurrent_window, max_frames,
            held_out, held_out_margin, validation_c, validate_every, checkpoint_every, time_budget, seed, precision, device,
            threads, log_every):  # fmt: skip
    """Train a model on annotated CTC sequences (TRA markers + SEG/ST masks), selected by the pipeline's score."""
    preset = get_preset(dataset)
    if network_scale is not None:
        preset = replace(preset, network_scale=network_scale)
    check_output(out, resume, overwrite)
    check_numbers(learning_rate, background_weight, crop_size, levels)
    if stateless_levels >= levels:
        raise InputError(
            f"--stateless-levels {stateless_levels}: at least one of the {levels} levels must keep its ConvGRU"
        )
    if resume and init_from:
        raise InputError("--resume and --init-from: a resumed run already has its weights; give one of them")
    window = parse_window(recurrent_window)
    c_values = parse_c_values(validation_c, preset.c)
    names = [name.strip() for name in sequences.split(",") if name.strip()]
    block = None if held_out == "none" else HeldOutBlock.parse(held_out, held_out_margin)
    torch_device = resolve_device(device)
    if threads:
        torch.set_num_threads(threads)
    click.echo(f"loading {', '.join(names)} from {data_dir}", err=True)
    loaded = [TrainingSequence.load(data_dir, name, preset, max_frames) for name in names]
    validation = None
    training = loaded
    if block is not None:
        training = [loaded[0].part(run) for run in block.training_ranges(len(loaded[0]))] + loaded[1:]
    longest = max((len(sequence) for sequence in training), default=0)
    if longest < clip_length:
        raise InputError(f"--clip-length {clip_length}: longer than every run of training frames (at most {longest})")
    config = TrainingConfig(
        iterations=iterations, clip_length=clip_length, crop_size=crop_size, learning_rate=learning_rate,
        validate_every=validate_every, checkpoint_every=checkpoint_every, seed=seed,
        precision=resolve_precision(precision, torch_device), background_weight=background_weight,
        neighbour_weighting=neighbour_weighting,
        network=NetworkConfig(
            filters=filters, levels=levels, embedding_size=embedding_size, stateless_levels=stateless_levels
        ),
    )  # fmt: skip
    if block is not None:
        layout = out.with_name(out.stem + "_validation")
        if not layout.exists():
            lay_out_block(data_dir, names[0], block, layout)
        validation = PipelineValidation(
            *(layout / "gold", layout / "silver"), preset, c_values,
            RecurrentWindow(**window) if window else None, config.precision,
        )  # fmt: skip
    card = {
        "dataset": preset.name,
        "recurrent_window": window,
        "sequences": names,
        "training_frames": [f"{names[0]}: {run.start}-{run.stop - 1}" for run in block.training_ranges(len(loaded[0]))]
        if block else [f"{name}: all" for name in names],
        "validation": f"sequence {names[0]}, {block.describe()}: whole pipeline, SEG (gold and silver truth), TRA, DET"
        if block else "none",
        "normalization": {"sigma": preset.normalization_sigma, "low_percentile": preset.low_percentile,
                          "high_percentile": preset.high_percentile, "size": list(NETWORK_SIZE),
                          "network_scale": preset.network_scale, "log_intensity": preset.log_intensity},
        "loss": {"neighbour_radius": preset.r_n, "max_instances": config.max_instances},
    }  # fmt: skip
    budget = TimeBudget(time_budget * 60) if time_budget else None
    with StopOnSignal() as signalled:
        card = train(
            training, validation, preset, config, out, card, device, resume, init_from,
            lambda done: (budget(done) if budget else False) | signalled(done), progress_reporter(iterations, log_every),
        )  # fmt: skip
    chosen = card.get("chosen_checkpoint")
    summary = f"wrote {out} ({card['iterations_done']} of {iterations} iterations, {card['wall_time_s'] / 60:.1f} min"
    if chosen:
        summary += f"; best held-out checkpoint {chosen['iteration']}: SEG {chosen['SEG']:.3f} TRA {chosen['TRA']:.3f}"
    click.echo(summary + ")", err=True)
    if signalled.signum is not None:
        click.echo(f"Stopped by {signal.Signals(signalled.signum).name}; continue with --resume", err=True)
        raise click.exceptions.Exit(128 + signalled.signum)
