"""Peak memory as a process's own: a small process started by a large one reports its own size."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ctc_submit import resources
from ctc_submit.resources import peak_memory_mib

HELD_MIB = 300
CHILD = (
    "import resource\n"
    "from ctc_submit.resources import peak_memory_mib\n"
    "print(peak_memory_mib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the carried-over ru_maxrss is Linux's")
def test_a_process_started_by_a_large_one_reports_its_own_peak():
    held = np.ones(HELD_MIB * 2**20, dtype=np.uint8)  # written, so resident
    output = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True).stdout
    child, carried_over = map(float, output.split())
    parent = peak_memory_mib()
    assert held.sum() == held.size
    assert carried_over > HELD_MIB  # getrusage starts the child at its starter's size
    assert 0 < child < HELD_MIB / 3 and child < parent - HELD_MIB


def test_without_proc_the_peak_comes_from_getrusage(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(resources, "STATUS", tmp_path / "missing")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 1024)
    assert peak_memory_mib() == pytest.approx(peak, rel=0.05)
