"""``ctc-submit render``: pictures of a result folder (overlay GIF, lineage tree, contact sheet)."""

from __future__ import annotations

from pathlib import Path

import click

from ctc_submit.cli.errors import user_errors
from ctc_submit.cli.options import folder_option
from ctc_submit.render import default_images, render


@click.command("render", short_help="Draw a result: overlay, lineage tree, frames.")
@click.argument("res_dir", type=click.Path(path_type=Path, file_okay=False))
@folder_option(
    "--images",
    "images_dir",
    help="Input sequence (tNNN.tif). Default: the sibling of RES_DIR (DATASET/01 for DATASET/01_RES).",
)
@folder_option(
    "--out",
    "out_dir",
    help="Folder for the pictures. Default: RES_DIR's name + '_pictures', next to it.",
)
@user_errors
def command(res_dir: Path, images_dir: Path | None, out_dir: Path | None) -> None:
    """Draw the masks and lineage of RES_DIR (maskNNN.tif + res_track.txt, or a GT TRA folder)."""
    if images_dir is None:
        images_dir = default_images(res_dir)
        if images_dir is None:
            click.echo(
                f"{res_dir}: no input sequence found next to it; drawing the masks alone (see --images)", err=True
            )
    out_dir = out_dir or res_dir.parent / f"{res_dir.name}_pictures"
    written = render(res_dir, out_dir, images_dir)
    if "lineage" not in written:
        click.echo(f"{res_dir}: no res_track.txt, so no lineage tree", err=True)
    for kind, path in written.items():
        click.echo(f"{kind:<8} {path}")
