"""``ctc-submit scripts``: write the challenge's DATASET-SEQ.sh run scripts into a submission folder."""

from __future__ import annotations

from pathlib import Path

import click

from ctc_submit.cli.errors import user_errors
from ctc_submit.cli.options import dataset_option, overwrite_option
from ctc_submit.presets import get_preset
from ctc_submit.scripts import write_scripts


@click.command("scripts", short_help="Write the challenge's DATASET-SEQ.sh run scripts.")
@click.argument("dest", type=click.Path(path_type=Path))
@dataset_option(
    "Only this dataset's scripts (repeatable) [default: every dataset with a preset].", required=False, multiple=True
)
@overwrite_option("Replace scripts of the same names that differ.")
@user_errors
def command(dest: Path, dataset: tuple[str, ...], overwrite: bool) -> None:
    """Write the run scripts of the challenge's submission format into DEST (e.g. SUBMISSION/SW).

    Each DATASET-SEQ.sh, run from DEST, reads ../DATASET/SEQ and writes ../DATASET/SEQ_RES with
    'ctc-submit run'; it works with any install of ctc_submit that is on PATH.
    """
    names = [get_preset(name).name for name in dataset] or None
    written = write_scripts(dest, names, overwrite)
    click.echo(f"{dest}: {len(written)} scripts ({', '.join(path.name for path in written)})")
