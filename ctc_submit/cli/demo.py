"""``ctc-submit demo``: download (if needed), run, score and draw DIC-C2DH-HeLa 01 in one command."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ctc_submit.cli.download import ProgressBar
from ctc_submit.cli.errors import user_errors
from ctc_submit.cli.options import folder_option
from ctc_submit.demo import (
    DATASET,
    SCRIPT,
    SEQUENCE,
    DemoError,
    check_viz_installed,
    find_dataset,
    make_layout,
    pictures,
    run_script,
    score,
)
from ctc_submit.download import URL_BASE, DownloadError, dataset_url, download_dataset


def step(number: int, text: str) -> None:
    click.secho(f"[{number}/5] {text}", bold=True, err=True)


@click.command("demo", short_help="Run, score and draw DIC-C2DH-HeLa 01 in one go.")
@folder_option(
    "--data",
    help=f"Folder holding {DATASET}/ (default: $CTC_DATA, else an earlier download, else download it).",
)
@folder_option(
    "--workdir",
    default=Path("ctc-demo"),
    show_default=True,
    help="Working folder for the challenge layout, the result, the scores and the pictures.",
)
@folder_option(
    "--scripts",
    help=f"Folder with {SCRIPT}, copied to WORKDIR/SW [default: the scripts 'ctc-submit scripts' writes].",
)
@click.option("--url-base", default=URL_BASE, show_default=True, help="Server to download the dataset from.")
@user_errors
def command(data: Path | None, workdir: Path, scripts: Path | None, url_base: str) -> None:
    """Process DIC-C2DH-HeLa sequence 01 challenge-style, score it against its GT and draw it.

    The data folder is only read: WORKDIR gets links to it, the challenge's run scripts as SW/,
    and the outputs. Needs the viz extra (pip install 'ctc_submit[viz]').
    """
    check_viz_installed()
    step(1, f"Data: {DATASET}")
    dataset = find_dataset(data, os.environ, [workdir / "data", Path("ctc-data")])
    if dataset is None:
        bar = ProgressBar(f"Downloading {dataset_url(DATASET, 'training', url_base)}")
        try:
            dataset = download_dataset(DATASET, workdir / "data", url_base=url_base, progress=bar)
        except DownloadError as error:
            raise click.ClickException(f"{error} (or point --data/CTC_DATA at a copy of the dataset)") from None
        finally:
            bar.close()
    click.echo(f"      using {dataset} (read only)", err=True)

    step(2, f"Challenge layout in {workdir}")
    layout = make_layout(dataset, workdir, scripts)

    step(3, f"Running SW/{SCRIPT} (segmentation and tracking; minutes on a CPU)")
    try:
        run_script(layout, os.environ)
    except DemoError as error:
        raise click.ClickException(str(error)) from None

    step(4, f"Scoring {layout.result.name} against {SEQUENCE}_GT")
    scores = score(layout)
    step(5, "Drawing the result")
    written = pictures(layout)

    click.echo(f"Result:   {layout.result}")
    click.echo(
        "Scores:   "
        + "  ".join(f"{name} {value:.6f}" for name, value in scores.items())
        + f"   (logs in {layout.workdir / 'evaluation'})"
    )
    for kind, path in written.items():
        click.echo(f"{kind.capitalize() + ':':<9} {path}")
