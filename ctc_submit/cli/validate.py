"""``ctc-submit validate``: will the official evaluation tools accept this result folder?"""

from __future__ import annotations

from pathlib import Path

import click

from ctc_submit.cli.errors import user_errors
from ctc_submit.validate import MIN_DIGITS, validate_result


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@click.command("validate", short_help="Check a result against the official rules.")
@click.argument("res_dir", type=click.Path(path_type=Path))
@click.option(
    "--gt",
    "gt_dir",
    type=click.Path(path_type=Path),
    help="GT folder of the sequence (SEQ_GT or SEQ_GT/TRA): fixes the frames, their size and the digit count.",
)
@click.option(
    "--num-digits",
    type=click.IntRange(min=MIN_DIGITS),
    help="Digits of the frame index in file names (default: from the GT names, else from the mask names).",
)
@user_errors
def command(res_dir: Path, gt_dir: Path | None, num_digits: int | None) -> None:
    """Check RES_DIR (maskNNN.tif + res_track.txt) against the rules of the official CTC evaluation.

    Prints one line per error (the official tools would reject the result) and per warning
    (accepted, but suspicious). Exit status: 0 valid, 1 invalid, 2 unusable arguments.
    """
    report = validate_result(res_dir, gt_dir, num_digits)
    for error in report.errors:
        click.echo(f"error: {error}")
    for warning in report.warnings:
        click.echo(f"warning: {warning}")
    verdict = "valid" if report.ok else "INVALID"
    counts = f"{plural(len(report.errors), 'error')}, {plural(len(report.warnings), 'warning')}"
    click.echo(f"{res_dir}: {verdict} ({counts})")
    if not report.ok:
        click.get_current_context().exit(1)
