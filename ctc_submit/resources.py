"""Peak resident memory of this process, importable by a clustering process (standard library only)."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

STATUS = Path("/proc/self/status")


def peak_memory_mib() -> float:
    """Peak resident memory of this process alone, in MiB.

    Linux's ``VmHWM`` is the high-water mark of this process's own memory, which starts anew when
    it starts a program. ``getrusage``'s ``ru_maxrss`` carries over, through fork and exec, the
    size of the process that started this one: a clustering process started by a 590 MiB run
    would report 590 MiB, and so would a run started from a large process. Where ``/proc`` is
    missing (macOS), ``ru_maxrss`` is what there is (bytes there, KiB on Linux).
    """
    try:
        status = STATUS.read_text()
    except OSError:
        status = ""
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024**2 if sys.platform == "darwin" else 1024)
