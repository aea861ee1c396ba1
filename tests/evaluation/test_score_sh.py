"""``evaluation/score.sh``: the challenge-style wrapper passes everything to ``ctc-submit evaluate``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "evaluation" / "score.sh"


def test_arguments_go_to_ctc_submit_evaluate(tmp_path):
    fake = tmp_path / "ctc-submit"
    fake.write_text('#!/bin/sh\necho "called: $*"\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([SCRIPT, "data dir", "01", "--json"], capture_output=True, text=True, env=env)
    assert done.returncode == 0
    assert done.stdout == "called: evaluate data dir 01 --json\n"


def test_missing_arguments_are_a_usage_error():
    done = subprocess.run([SCRIPT, "only-one"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("usage: ") and done.stdout == ""
