"""``ctc-submit models``: the models available by dataset name, with their cards' summaries."""

from __future__ import annotations

import click

from ctc_submit.cli.errors import user_errors
from ctc_submit.registry import ENVIRONMENT, available_models


@click.command("models", short_help="List the models available by dataset name.")
@click.option("--check", is_flag=True, help="Also verify each model file against its registered sha256.")
@user_errors
def command(check: bool) -> None:
    """List the models 'ctc-submit run --dataset NAME' uses: the shipped ones and those of the folder
    named by $CTC_SUBMIT_MODELS (which add to or replace them), each with its card's summary."""
    models = available_models()
    if not models:
        click.echo(f"no models (train one with 'ctc-submit train', or point ${ENVIRONMENT} at a folder of models)")
    for dataset, model in models.items():
        if check:
            model.checked_path()
        click.echo(f"{dataset}  ({model.origin}: {model.path})")
        for key, value in model.card().summary().items():
            click.echo(f"    {key + ':':<17}{value}")
