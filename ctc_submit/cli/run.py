"""``ctc-submit run``: segment and track one sequence into a CTC result folder."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ctc_submit.cli.errors import InputError, interruptible, user_errors
from ctc_submit.cli.options import dataset_option, device_option, model_option, overwrite_option, precision_option
from ctc_submit.io import CTCInputError, read_tracks

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from ctc_submit.pipeline import PipelineResult

PHASES = {"track": "Segmenting and tracking", "write": "Writing masks"}


class PhaseBars:
    """One click progress bar per phase of the pipeline, on stderr; use as a context manager."""

    def __init__(self) -> None:
        self.phase: str | None = None
        self.bar: ProgressBar[int] | None = None
        self.done = 0

    def __enter__(self) -> PhaseBars:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self.phase:
            self.close()
            self.bar = click.progressbar(length=total, label=PHASES[phase], file=sys.stderr).__enter__()
            self.phase, self.done = phase, 0
        assert self.bar is not None  # opened for this phase
        self.bar.update(done - self.done)
        self.done = done


def ground_truth(source: Path) -> Path:
    """``SEQ_GT`` beside a sequence folder ``SEQ`` or a stack ``SEQ.tif``."""
    return source.with_name(f"{source.stem if source.is_file() else source.name}_GT")


def score(gt_dir: Path, output_dir: Path) -> tuple[dict[str, float | None] | None, str | None]:
    """Official measures against ``SEQ_GT``, and the biological ones where it tracks; a failure is
    reported, not raised (the result is written)."""
    from ctc_submit.evaluation import available_measures, evaluate, locate
    from ctc_submit.evaluation.measures import BIOLOGICAL_DEFAULT

    dataset_dir, sequence = gt_dir.parent, gt_dir.name.removesuffix("_GT")
    try:
        measures = available_measures(locate(dataset_dir, sequence, output_dir))
        if "TRA" in measures:
            measures += list(BIOLOGICAL_DEFAULT)
        return evaluate(dataset_dir, sequence, output_dir, measures), None
    except CTCInputError as error:
        return None, str(error)


def gt_lineage(gt_dir: Path) -> dict[str, int] | None:
    """The ground truth's lineage counts, to read the result's against; None without GT tracks."""
    from ctc_submit.tracking.lineage import lineage_counts

    path = gt_dir / "TRA" / "man_track.txt"
    try:
        return lineage_counts(read_tracks(path)) if path.is_file() else None
    except CTCInputError:
        return None


def summary(
    output_dir: Path,
    result: PipelineResult,
    total: float,
    scores: dict | None,
    score_error: str | None,
    reference: dict[str, int] | None = None,
) -> list[str]:
    """A few lines for people: what was written, where the time went, the lineage next to the GT's, the scores."""
    from ctc_submit.pipeline import STAGES
    from ctc_submit.tracking.lineage import lineage_counts

    counts = f"{result.objects} objects, {len(result.tracks)} tracks, {result.divisions} divisions"
    lineage = lineage_counts(result.tracks)
    lines = [
        f"{output_dir}: {result.frames} masks, {counts}",
        f"time {total:.1f} s: " + "  ".join(f"{stage} {result.seconds[stage]:.1f}" for stage in STAGES),
        "lineage: "
        + "  ".join(
            f"{name.replace('_', ' ')} {value}" + (f" (GT {reference[name]})" if reference else "")
            for name, value in lineage.items()
        ),
    ]
    lines += [f"warning: {warning}" for warning in result.input_warnings]
    if result.frames and not result.objects:
        lines.append("warning: no object found in any frame (is the model made for this data?)")
    if result.warnings:
        lines.append(f"{len(result.warnings)} validation warnings (listed in the report)")
    if scores:
        lines.append(
            "scores: "
            + "  ".join(f"{name} {'n/a' if value is None else f'{value:.4f}'}" for name, value in scores.items())
        )
    if score_error:
        lines.append(f"not scored: {score_error}")
    return lines


@click.command("run", short_help="Segment and track a sequence into a CTC result.")
@click.argument("input_dir", metavar="INPUT", type=click.Path(path_type=Path))
@click.argument("output_dir", type=click.Path(path_type=Path))
@dataset_option(
    "Dataset name or short name (picks the method's parameters and the registered model), e.g. DIC-C2DH-HeLa."
)
@model_option("Model file [default: the dataset's model from 'ctc-submit models'].")
@device_option
@precision_option
@click.option(
    "--clustering",
    type=click.Choice(["fast", "exact"]),
    default="fast",
    show_default=True,
    help="fast: HDBSCAN on a pixel grid subsample; exact: on every foreground pixel (slow reference).",
)
@overwrite_option("Replace OUTPUT_DIR if it exists and is not empty.")
@click.option(
    "--score/--no-score",
    "score_result",
    default=None,
    help="Score against SEQ_GT beside INPUT [default: when it exists]; --score requires it.",
)
@user_errors
@interruptible
def command(input_dir, output_dir, dataset, model_path, device, precision, clustering, overwrite, score_result):
    """Segment and track INPUT into the CTC result folder OUTPUT_DIR.

    INPUT is a sequence folder of tNNN.tif frames or a multi-page TIFF stack (T, Y, X). Writes
    OUTPUT_DIR/maskNNN.tif and res_track.txt (only once complete and valid) and, beside OUTPUT_DIR,
    a JSON run report with parameters, versions, timings, counts and scores.
    """
    from ctc_submit.frames import check_run
    from ctc_submit.presets import get_preset
    from ctc_submit.registry import registered_model

    started = time.perf_counter()
    get_preset(dataset)  # an unknown dataset, or one without parameters, is refused first
    model_path = model_path or registered_model(dataset).checked_path()
    gt_dir = ground_truth(input_dir)
    if score_result and not gt_dir.is_dir():
        raise InputError(f"--score: {gt_dir}: ground truth folder not found")
    frames = check_run(input_dir, output_dir, overwrite)
    # Only now the heavy imports (torch, hdbscan): a refused run answers at once.
    from ctc_submit.cells import cell_rows, cell_table_path, write_cell_table
    from ctc_submit.model.compute import CpuReport
    from ctc_submit.model.tiling import tile_layout
    from ctc_submit.normalize import network_grid
    from ctc_submit.pipeline import clustering_on_grid
    from ctc_submit.report import build_report, report_path, write_report
    from ctc_submit.tracker import load
    from ctc_submit.tracking.clustering import subsampling_step

    if report_path(output_dir).is_dir():
        raise InputError(f"{report_path(output_dir)}: is a folder; the run report goes there")

    model = load(model_path, dataset, device)
    if model.card.dataset not in (None, model.preset.name):
        click.echo(f"note: {model.path.name} was trained on {model.card.dataset}, not {model.preset.name}", err=True)
    with PhaseBars() as progress:
        result = model.track(
            frames, output_dir, clustering=clustering, overwrite=overwrite, precision=precision, progress=progress
        )
    plan = result.core_plan
    assert plan is not None  # Model.track plans the cores
    scores, score_error = None, None
    if score_result is not False and gt_dir.is_dir():
        scores, score_error = score(gt_dir, output_dir)
    total = time.perf_counter() - started
    window = model.card.recurrent_window
    grid = network_grid(result.shape, model.preset.network_scale)
    m_pts, c, max_step = clustering_on_grid(model.preset, grid)
    parameters = {
        "network_grid": list(grid),
        "tiles": len(tile_layout(grid).corners),
        "clustering": clustering,
        "m_pts_on_grid": m_pts,
        "c_on_grid": c,
        "subsampling_step": subsampling_step(m_pts, max_step) if clustering == "fast" else 1,
        "device": str(model.device),
        "precision": result.precision,
        "precision_asked": precision,
        "cpu": CpuReport.here().describe(),
        "network_threads": plan.network_threads,
        "clustering_processes": plan.clustering_processes,
        "clustering_threads": plan.clustering_threads,
        "recurrent_window": dataclasses.asdict(window) if window else None,
    }
    table = cell_table_path(output_dir)
    rows = cell_rows(output_dir, result.tracks, result.frames, frames.digits)
    reference = gt_lineage(gt_dir) if gt_dir.is_dir() else None
    report = build_report(
        input_dir, output_dir, model.preset, model.path, dict(model.card.content), parameters, result, total, scores,
        score_error, reference, table,
    )  # fmt: skip
    for line in summary(output_dir, result, total, scores, score_error, reference):
        click.echo(line)
    for path, write in ((report_path(output_dir), lambda: write_report(report_path(output_dir), report)),
                        (table, lambda: write_cell_table(table, rows))):  # fmt: skip
        try:
            write()
        except OSError as error:
            raise click.ClickException(
                f"{path}: cannot be written ({error.strerror}); the result is complete"
            ) from None
    click.echo(f"report: {report_path(output_dir)}")
    click.echo(f"cells: {table}")
