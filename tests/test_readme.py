"""The README starts with the two commands, and CI runs exactly its test command."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readmes_test_command():
    first_block = (ROOT / "README.md").read_text().split("```\n")[1].strip().splitlines()
    assert (
        len(first_block) == 2
        and first_block[0].endswith("ctc-submit demo")
        and "pytest -q" in first_block[1].split(" && ")
    )
    assert first_block[1] in (ROOT / ".ci" / "run").read_text().splitlines()
