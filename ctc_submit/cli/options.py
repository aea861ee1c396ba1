"""Options shared by several subcommands, defined once so their names, choices and help agree."""

from __future__ import annotations

from pathlib import Path

import click

from ctc_submit.model import DEVICES, PRECISIONS

device_option = click.option(
    "--device", type=click.Choice(DEVICES), default="auto", show_default=True,
    help="auto: CUDA, then Apple's MPS, then the CPU.",
)  # fmt: skip

precision_option = click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default="auto",
    show_default=True,
    help="Network arithmetic. auto: bf16 on CUDA and on CPUs that run bf16 natively (AVX-512 BF16, AMX), "
    "fp32 elsewhere (bf16 is emulated, and several times slower, on other CPUs).",
)


def dataset_option(help: str, **settings):
    """``--dataset NAME`` (a name or short name of :mod:`ctc_submit.datasets`); required unless ``settings`` say otherwise."""
    return click.option("--dataset", **{"required": True, **settings}, help=help)


def model_option(help: str):
    """``--model PATH``, a model file, passed as ``model_path``."""
    return click.option("--model", "model_path", type=click.Path(path_type=Path), help=help)


def overwrite_option(help: str):
    """``--overwrite``: replace what a command would otherwise refuse to touch; ``help`` says what."""
    return click.option("--overwrite", is_flag=True, help=help)


def folder_option(*names: str, help: str, **settings):
    """An optional folder (``None`` unless ``settings`` give a default); ``names`` as for ``click.option``."""
    return click.option(
        *names, type=click.Path(path_type=Path, file_okay=False), help=help, **{"default": None, **settings}
    )
