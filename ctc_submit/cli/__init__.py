"""The ``ctc-submit`` command: a click group with one module per subcommand.

Subcommand modules are imported only when called, so ``ctc-submit evaluate`` does not pay for
importing torch and hdbscan.

In: command-line arguments. Out: calls into the library (:mod:`ctc_submit.tracker`,
:mod:`ctc_submit.evaluation`, :mod:`ctc_submit.training`, ...) and their results as text; the
commands parse and report, the library does the work. Options several commands share are in
:mod:`~ctc_submit.cli.options`.
"""

from __future__ import annotations

import importlib

import click

from ctc_submit import __version__

SUBCOMMANDS: list[str] = [
    "train",
    "download",
    "validate",
    "render",
    "evaluate",
    "demo",
    "run",
    "batch",
    "models",
    "scripts",
]


class LazyGroup(click.Group):
    """A group whose subcommands live in ``ctc_submit.cli.<name>`` as ``command``."""

    def list_commands(self, context: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, context: click.Context, name: str) -> click.Command | None:
        if name not in SUBCOMMANDS:
            return None
        return importlib.import_module(f"ctc_submit.cli.{name}").command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ctc-submit")
def main() -> None:
    """Turn 2D microscopy time-lapses into Cell Tracking Challenge submissions and score them."""
