"""Every command and option explains itself: the top-level list is not cut, every option has help."""

from __future__ import annotations

import importlib

import click
import pytest
from click.testing import CliRunner

from ctc_submit.cli import SUBCOMMANDS, main


def test_the_command_list_shows_each_commands_whole_summary():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = result.output.split("Commands:")[1].strip().splitlines()
    assert len(listed) == len(SUBCOMMANDS) and not any(line.endswith("...") for line in listed), result.output


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_option_has_help_text(name):
    command = importlib.import_module(f"ctc_submit.cli.{name}").command
    assert command.help
    assert [option.opts for option in command.params if isinstance(option, click.Option) and not option.help] == []
