"""``ctc-submit evaluate``: score a result folder with the Cell Tracking Challenge measures."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import click

from ctc_submit.cli.errors import InputError, user_errors
from ctc_submit.download import remove_empty
from ctc_submit.evaluation.measures import (
    BIOLOGICAL_DEFAULT,
    MEASURES,
    available_measures,
    evaluate,
    evaluate_official,
    locate,
)
from ctc_submit.io import write_atomically


def _measure_list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [name.strip().upper() for name in text.split(",") if name.strip()]


@click.command("evaluate", short_help="Score a result with the challenge's measures.")
@click.argument("dataset_dir", type=click.Path(path_type=Path))
@click.argument("seq")
@click.option("--res", "res_dir", type=click.Path(path_type=Path), help="Result folder (default: DATASET_DIR/SEQ_RES).")
@click.option(
    "--measures",
    metavar="LIST",
    help=f"Comma-separated, from {','.join(MEASURES)},CT,TF,BC(i),CCA,BIO(i),OP_CLB(i),CHOTA,"
    "DIV_PRECISION(i),DIV_RECALL(i),DIV_F1(i) (default: SEG, TRA and DET where the ground truth exists).",
)
@click.option(
    "--bio",
    is_flag=True,
    help=f"Add the biological measures and division scores ({','.join(BIOLOGICAL_DEFAULT)}); i is the tolerance in frames.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object {measure: value}.")
@click.option(
    "--log-dir",
    type=click.Path(path_type=Path),
    help="Write the official-style SEG_log.txt/TRA_log.txt/DET_log.txt here.",
)
@click.option(
    "--official",
    is_flag=True,
    help="Run the official SEGMeasure/TRAMeasure/DETMeasure (from $CTC_EVALUATION_TOOLS or PATH) instead.",
)
@user_errors
def command(
    dataset_dir: Path,
    seq: str,
    res_dir: Path | None,
    measures: str | None,
    bio: bool,
    as_json: bool,
    log_dir: Path | None,
    official: bool,
) -> None:
    """Score DATASET_DIR/SEQ_RES against DATASET_DIR/SEQ_GT like the official CTC evaluators.

    Prints one official line per measure, e.g. "SEG measure: 0.502177". DET0 is DET
    without the false-positive penalty, LNK the linking part of TRA, OP_CSB = (SEG+DET)/2
    and OP_CTB = (SEG+TRA)/2. CT, TF, BC(i), CCA, BIO(i) and OP_CLB(i) = (LNK+BIO)/2 are the
    challenge's biological measures, CHOTA the lineage-aware HOTA; a measure undefined for this
    ground truth (BC without divisions) prints "n/a". Results the official tools reject are refused.
    """
    requested = _measure_list(measures)
    if bio:
        requested = (requested or available_measures(locate(dataset_dir, seq, res_dir))) + list(BIOLOGICAL_DEFAULT)
    # Logs are written to a staging folder first, so that an unwritable --log-dir costs the logs only, not the scores.
    with tempfile.TemporaryDirectory(prefix="ctc-submit-logs.") as staging:
        staged = Path(staging) if log_dir is not None else None
        if official:
            values = evaluate_official(dataset_dir, seq, res_dir, requested, staged)
        else:
            values = evaluate(dataset_dir, seq, res_dir, requested, log_dir=staged)
        if as_json:
            click.echo(json.dumps(values))
        else:
            for name, value in values.items():
                click.echo(f"{name} measure: {'n/a' if value is None else f'{value:.6f}'}")
        if staged is not None:
            assert log_dir is not None  # staged is only set with a log_dir
            publish_logs(staged, log_dir)


def publish_logs(staged: Path, log_dir: Path) -> None:
    """Copy the staged logs into ``log_dir``; a failure is one line (the scores are already printed)."""
    created = [folder for folder in (log_dir.absolute(), *log_dir.absolute().parents) if not folder.exists()]
    written: list[Path] = []
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        for log in sorted(staged.iterdir()):
            write_atomically(log_dir / log.name, lambda target: shutil.copyfile(log, target))
            written.append(log_dir / log.name)
    except OSError as error:
        for path in written:
            path.unlink(missing_ok=True)
        remove_empty(created)
        raise InputError(f"--log-dir {log_dir}: cannot write the logs there ({error.strerror}); scores above") from None
