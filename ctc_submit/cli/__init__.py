"""The ``ctc-submit`` command: a click group with one module per subcommand."""

from __future__ import annotations

import click

from ctc_submit import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ctc-submit")
def main() -> None:
    """Turn 2D microscopy time-lapses into Cell Tracking Challenge submissions and score them."""


def _register() -> None:
    import importlib

    for name in SUBCOMMANDS:
        module = importlib.import_module(f"ctc_submit.cli.{name}")
        main.add_command(module.command)


SUBCOMMANDS: list[str] = ["train", "download", "render", "validate", "evaluate", "demo"]
_register()
