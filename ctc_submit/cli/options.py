"""Options shared by several subcommands, defined once so their names, choices and help agree."""

from __future__ import annotations

import click

from ctc_submit.model import DEVICES, PRECISIONS

device_option = click.option(
    "--device", type=click.Choice(DEVICES), default="auto", show_default=True,
    help="auto: CUDA, then Apple's MPS, then the CPU.",
)  # fmt: skip

precision_option = click.option(
    "--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
    help="Network arithmetic. auto: bf16 on CUDA and on CPUs that run bf16 natively (AVX-512 BF16, AMX), "
    "fp32 elsewhere (bf16 is emulated, and several times slower, on other CPUs).",
)
