"""``ctc-submit train``: train the recurrent stacked hourglass on CTC training sequences."""

from __future__ import annotations

import time
from pathlib import Path

import click
import torch

from ctc_submit.cli.errors import InputError, user_errors
from ctc_submit.cli.options import device_option, precision_option
from ctc_submit.model.compute import resolve_device, resolve_precision
from ctc_submit.model.network import NetworkConfig
from ctc_submit.normalize import NETWORK_SIZE
from ctc_submit.presets import get_preset
from ctc_submit.training.data import TrainingSequence
from ctc_submit.training.trainer import TrainingConfig, train


def progress_reporter(total: int, every: int):
    """A line every ``every`` iterations with the loss, speed and time left (works in logs too)."""
    started = time.perf_counter()
    first: list[int] = []

    def report(done: int, loss: float, validation: float | None) -> None:
        if not first:
            first.append(done - 1)
        if done % every and validation is None and done != total:
            return
        rate = (done - first[0]) / max(time.perf_counter() - started, 1e-9)
        left = (total - done) / max(rate, 1e-9)
        text = f"[{done}/{total}] loss {loss:.4f}"
        if validation is not None:
            text += f"  validation {validation:.4f}"
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


@click.command("train")
@click.option("--dataset", required=True, help="Dataset name (sets r_N and normalisation), e.g. DIC-C2DH-HeLa.")
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path), help="CTC training folder of that dataset.")
@click.option("--sequences", default="01", show_default=True, help="Comma-separated sequences to train on.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Model file to write (.pt).")
@click.option("--iterations", default=40_000, show_default=True)
@click.option("--clip-length", default=10, show_default=True, help="Consecutive frames per training clip.")
@click.option("--crop-size", default=256, show_default=True, help="Random square crop of the 256x256 grid.")
@click.option("--filters", default=64, show_default=True)
@click.option("--levels", default=7, show_default=True)
@click.option("--embedding-size", default=16, show_default=True)
@click.option("--learning-rate", default=1e-4, show_default=True, help="Adam; divided by 10 at half of the iterations.")
@click.option("--background-weight", default=1.0, show_default=True, help="Extra weight of the background's pull term (0: the paper's loss).")
@click.option("--recurrent-window", default="none", show_default=True,
              help="HOP,WARMUP stored in the card: at inference restart the state every HOP frames after WARMUP frames "
                   "(for models trained on short clips); none: carry it through the video.")
@click.option("--max-frames", type=int, default=None, help="Use only the first N frames of each sequence (quick trials).")
@click.option("--validation-frames", default=8, show_default=True, help="Last frames of the first sequence held out.")
@click.option("--validate-every", default=250, show_default=True)
@click.option("--checkpoint-every", default=250, show_default=True)
@click.option("--seed", default=0, show_default=True)
@precision_option
@device_option
@click.option("--resume", is_flag=True, help="Continue from OUT's checkpoint (.ckpt).")
@click.option("--threads", type=int, default=None, help="CPU threads (default: all cores; 1 is faster on a busy machine).")
@click.option("--log-every", default=25, show_default=True)
@user_errors
def command(dataset, data_dir, sequences, out, iterations, clip_length, crop_size, filters, levels, embedding_size,
            learning_rate, background_weight, recurrent_window, max_frames, validation_frames, validate_every, checkpoint_every, seed, precision, device, resume, threads, log_every):
    """Train a model on annotated CTC sequences (TRA markers + SEG/ST masks)."""
    if threads:
        torch.set_num_threads(threads)
    try:
        preset = get_preset(dataset)
    except KeyError as error:
        raise InputError(error.args[0]) from None
    network = NetworkConfig(filters=filters, levels=levels, embedding_size=embedding_size)
    if crop_size % 2 ** (levels - 1) or crop_size > NETWORK_SIZE[0]:
        raise InputError(f"--crop-size {crop_size}: must divide by {2 ** (levels - 1)} and be at most {NETWORK_SIZE[0]}")
    names = [name.strip() for name in sequences.split(",") if name.strip()]
    click.echo(f"loading {', '.join(names)} from {data_dir}", err=True)
    loaded = [
        TrainingSequence.load(data_dir, name, preset.low_percentile, preset.high_percentile, max_frames) for name in names
    ]
    validation = None
    if validation_frames:
        loaded[0], validation = loaded[0].split(validation_frames)
    if min(len(sequence) for sequence in loaded) < clip_length:
        raise InputError(f"--clip-length {clip_length}: longer than a training sequence")
    out.parent.mkdir(parents=True, exist_ok=True)
    config = TrainingConfig(
        iterations=iterations, clip_length=clip_length, crop_size=crop_size, learning_rate=learning_rate,
        validation_frames=validation_frames, validate_every=validate_every, checkpoint_every=checkpoint_every,
        seed=seed, precision=resolve_precision(precision, resolve_device(device)), network=network, background_weight=background_weight,
    )
    card = {
        "dataset": preset.name,
        "recurrent_window": parse_window(recurrent_window),
        "sequences": names,
        "validation": f"last {validation_frames} frames of sequence {names[0]}" if validation_frames else "none",
        "normalization": {"sigma": 2.0, "low_percentile": preset.low_percentile,
                          "high_percentile": preset.high_percentile, "size": list(NETWORK_SIZE)},
        "loss": {"neighbour_radius": preset.r_n, "max_instances": config.max_instances},
    }
    card = train(loaded, validation, preset, config, out, card, device, resume, progress_reporter(iterations, log_every))
    click.echo(f"wrote {out} ({card['iterations_done']} iterations, {card['wall_time_s'] / 60:.1f} min)", err=True)
