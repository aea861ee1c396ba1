"""``ctc-submit download``: fetch and unpack an official CTC dataset archive."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ctc_submit.cli.errors import user_errors
from ctc_submit.cli.options import overwrite_option
from ctc_submit.datasets import DATASETS, KIND_FOLDERS, URL_BASE, dataset_named
from ctc_submit.download import DownloadError, dataset_url, download_dataset
from ctc_submit.presets import PRESETS


class ProgressBar:
    """A one-line ``[####....]  12.3/37.0 MB`` bar on stderr, redrawn in place at most every ``every_s``."""

    def __init__(self, title: str, width: int = 30, every_s: float = 0.2) -> None:
        self.title = title
        self.width = width
        self.every_s = every_s
        self.last = 0.0
        self.open = False

    def __call__(self, received: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self.last < self.every_s and received != total:
            return
        self.last = now
        if not self.open:
            click.echo(self.title, err=True)
        if total:
            filled = min(self.width, int(self.width * received / total))
            text = f"[{'#' * filled}{'.' * (self.width - filled)}] {received / 1e6:7.1f}/{total / 1e6:.1f} MB"
        else:
            text = f"{received / 1e6:7.1f} MB"
        click.echo(f"\r{text}", nl=False, err=True)
        self.open = True

    def close(self) -> None:
        """End the bar's line so that what follows starts on a fresh one."""
        if self.open:
            click.echo("", err=True)
            self.open = False


def known_datasets() -> str:
    """The table of datasets, with what ``run`` can do for each (a preset: the method's parameters are known)."""
    lines = [f"  {'name':<16} {'short name':<10} {'preset':<6} description"]
    for dataset in DATASETS.values():
        preset = "yes" if dataset.name in PRESETS else "-"
        lines.append(f"  {dataset.name:<16} {dataset.short_name or '-':<10} {preset:<6} {dataset.description}")
    return "\n".join(lines)


@click.command(
    "download", short_help="Download and unpack an official CTC dataset.",
    epilog=f"\b\nKnown 2D datasets ('ctc-submit models' lists those with a model):\n{known_datasets()}",
)  # fmt: skip
@click.argument("dataset")
@click.option(
    "--kind",
    type=click.Choice(list(KIND_FOLDERS)),
    default="training",
    show_default=True,
    help="Training data (with GT) or the challenge's test data (no GT).",
)
@click.option(
    "--dest",
    type=click.Path(path_type=Path),
    default=Path("ctc-data"),
    show_default=True,
    help="Folder that receives DATASET/{01,02,01_GT,...}.",
)
@overwrite_option("Replace an existing DEST/DATASET folder.")
@click.option(
    "--url-base", default=URL_BASE, show_default=True, help="Server holding training-datasets/ and test-datasets/."
)
@click.option("--sha256", default=None, help="Expected sha256 of the zip [default: the dataset table's, where known].")
@click.option("--size", "expected_size", type=int, default=None, help="Expected size of the zip in bytes.")
@click.option("--retries", default=4, show_default=True, help="Attempts to resume a broken transfer.")
@user_errors
def command(
    dataset: str,
    kind: str,
    dest: Path,
    overwrite: bool,
    url_base: str,
    sha256: str | None,
    expected_size: int | None,
    retries: int,
) -> None:
    """Download the official CTC zip of DATASET (e.g. DIC-C2DH-HeLa or DIC-HeLa) and unpack it to DEST/DATASET."""
    name = dataset_named(dataset).name
    bar = ProgressBar(f"Downloading {dataset_url(name, kind, url_base)} to {dest / name}")
    try:
        folder = download_dataset(
            dataset,
            dest,
            kind=kind,
            overwrite=overwrite,
            url_base=url_base,
            expected_size=expected_size,
            sha256=sha256,
            retries=retries,
            progress=bar,
        )
    except DownloadError as error:
        raise click.ClickException(str(error)) from None
    finally:
        bar.close()
    sequences = sorted(entry.name for entry in folder.iterdir() if entry.is_dir())
    click.echo(f"{folder}: {', '.join(sequences)}")
