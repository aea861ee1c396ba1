"""``ctc-submit demo``: download (if needed), run, score and draw sequence 01 of a dataset in one command."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ctc_submit.cli.download import ProgressBar
from ctc_submit.cli.errors import user_errors
from ctc_submit.cli.options import dataset_option, folder_option
from ctc_submit.demo import (
    DEFAULT_DATASET,
    SEQUENCE,
    DemoError,
    check_viz_installed,
    demo_dataset,
    find_dataset,
    make_layout,
    pictures,
    run_script,
    score,
)
from ctc_submit.download import URL_BASE, DownloadError, dataset_url, download_dataset


def step(number: int, text: str) -> None:
    click.secho(f"[{number}/5] {text}", bold=True, err=True)


@click.command("demo", short_help="Run, score and draw a dataset's sequence 01 in one go.")
@dataset_option(
    "Dataset name or short name; one with a model in 'ctc-submit models'.",
    required=False,
    default=DEFAULT_DATASET,
    show_default=True,
)
@folder_option(
    "--data",
    help="Folder holding DATASET/ (default: $CTC_DATA, else an earlier download, else download it).",
)
@folder_option(
    "--workdir",
    default=Path("ctc-demo"),
    show_default=True,
    help="Working folder for the challenge layout, the result, the scores and the pictures.",
)
@folder_option(
    "--scripts",
    help="Folder with the dataset's run script (e.g. DIC-HeLa-01.sh), copied to WORKDIR/SW "
    "[default: the scripts 'ctc-submit scripts' writes].",
)
@click.option("--url-base", default=URL_BASE, show_default=True, help="Server to download the dataset from.")
@user_errors
def command(dataset: str, data: Path | None, workdir: Path, scripts: Path | None, url_base: str) -> None:
    """Process sequence 01 of DATASET challenge-style, score it against its GT and draw it.

    Works for every dataset 'ctc-submit models' lists (the shipped DIC-C2DH-HeLa, and those of
    $CTC_SUBMIT_MODELS). The data folder is only read: WORKDIR gets links to it in DATASET/, the
    dataset's challenge run scripts as SW/, and the outputs; several datasets can share it. Needs
    the viz extra (pip install 'ctc_submit[viz]').
    """
    name = demo_dataset(dataset, os.environ)
    check_viz_installed()
    step(1, f"Data: {name}")
    found = find_dataset(name, data, os.environ, [workdir / "data", Path("ctc-data")])
    if found is None:
        bar = ProgressBar(f"Downloading {dataset_url(name, 'training', url_base)}")
        try:
            found = download_dataset(name, workdir / "data", url_base=url_base, progress=bar)
        except DownloadError as error:
            raise click.ClickException(f"{error} (or point --data/CTC_DATA at a copy of the dataset)") from None
        finally:
            bar.close()
    click.echo(f"      using {found} (read only)", err=True)

    step(2, f"Challenge layout in {workdir}")
    layout = make_layout(name, found, workdir, scripts)

    step(3, f"Running SW/{layout.script} (segmentation and tracking; minutes on a CPU)")
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
        + f"   (logs in {layout.evaluation})"
    )
    for kind, path in written.items():
        click.echo(f"{kind.capitalize() + ':':<9} {path}")
