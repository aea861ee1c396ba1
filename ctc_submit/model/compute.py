"""Where the network runs and in which precision: chosen for the machine at hand.

bf16 halves the network's time on CPUs that execute it natively (AVX-512 BF16, AMX) and on
GPUs, but a CPU without it emulates every bf16 operation: on an AVX2-only CPU the shipped
model took 4.3 s per frame in bf16 against 0.74 s in fp32. So ``auto`` asks the hardware
before it picks bf16, and the choice is recorded in the run report.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import torch

from ctc_submit.io import CTCInputError
from ctc_submit.model import PRECISIONS

Precision = Literal["auto", "fp32", "bf16", "fp16"]
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
# oneDNN, which runs the CPU convolutions, can be capped below the hardware (an environment
# variable of oneDNN's); a cap without these names leaves bf16 emulated.
ONEDNN_ISA_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")
ONEDNN_NATIVE_BF16_ISAS = ("AVX512_CORE_BF16", "AVX512_CORE_AMX", "AVX10", "ALL")
BENCHMARK_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ctc_submit" / "cpu_precision.json"


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; asking for an absent accelerator is an input error."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise CTCInputError(f"device {device}: no CUDA device available (use cpu or auto)")
    if device == "mps" and not torch.backends.mps.is_available():
        raise CTCInputError("device mps: Apple's MPS backend is not available (use cpu or auto)")
    return torch.device(device)


@dataclass(frozen=True)
class CpuReport:
    """What torch reports about this CPU: its kernel level and the bf16 instructions."""

    capability: str  # torch.backends.cpu.get_cpu_capability(): "AVX2", "AVX512", "DEFAULT", ...
    avx512_bf16: bool
    amx: bool
    machine: str  # platform.machine(): x86_64, aarch64, arm64, ...
    onednn_isa_cap: str | None

    @classmethod
    def here(cls) -> CpuReport:
        cap = next((os.environ[name] for name in ONEDNN_ISA_VARIABLES if os.environ.get(name)), None)
        return cls(
            capability=torch.backends.cpu.get_cpu_capability(),
            avx512_bf16=torch.cpu._is_avx512_bf16_supported(),
            amx=torch.cpu._is_amx_tile_supported(),
            machine=platform.machine().lower(),
            onednn_isa_cap=cap,
        )

    @property
    def is_x86(self) -> bool:
        return self.machine in ("x86_64", "amd64", "i386", "i686")

    def native_bf16(self) -> bool | None:
        """True/False where the report settles it (x86), None where it does not (other CPUs)."""
        if not self.is_x86:
            return None
        if self.onednn_isa_cap and not self.onednn_isa_cap.upper().startswith(ONEDNN_NATIVE_BF16_ISAS):
            return False
        return self.capability.startswith("AVX512") and (self.avx512_bf16 or self.amx)

    def describe(self) -> str:
        extras = [name for name, present in (("AVX512-BF16", self.avx512_bf16), ("AMX", self.amx)) if present]
        text = f"{self.machine} {self.capability}" + (f" ({', '.join(extras)})" if extras else "")
        return text + (f", oneDNN capped at {self.onednn_isa_cap}" if self.onednn_isa_cap else "")


def bf16_speedup(repeats: int = 3) -> float:
    """fp32 time over bf16 time of a convolution the size of the network's widest layer."""
    convolution = torch.nn.Conv2d(32, 32, 3, padding=1)
    image = torch.randn(1, 32, 128, 128)

    def seconds(dtype: torch.dtype | None) -> float:
        with torch.inference_mode(), torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            convolution(image)
            started = time.perf_counter()
            for _ in range(repeats):
                convolution(image)
        return time.perf_counter() - started

    return seconds(None) / seconds(torch.bfloat16)


def measured_native_bf16(
    report: CpuReport, cache: Path = BENCHMARK_CACHE, measure: Callable[[], float] = bf16_speedup
) -> bool:
    """For a CPU the report does not settle: bf16 counts as native when it beats fp32 in a
    one-off micro-benchmark (a fraction of a second), cached per CPU and torch version."""
    key = f"{report.machine}|{platform.processor()}|{report.capability}|torch {torch.__version__}"
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if key not in known:
        known[key] = measure() > 1.0
        with contextlib.suppress(OSError):
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(known, indent=1) + "\n")
    return bool(known[key])


def resolve_precision(precision: Precision, device: torch.device, report: CpuReport | None = None) -> Precision:
    """``auto``: bf16 on CUDA and on CPUs that execute bf16 natively, fp32 elsewhere (MPS included)."""
    if precision not in PRECISIONS:
        raise CTCInputError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16"
    if device.type != "cpu":
        return "fp32"
    report = report or CpuReport.here()
    native = report.native_bf16()
    if native is None:
        native = measured_native_bf16(report)
    return "bf16" if native else "fp32"


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Autocast to the resolved ``precision`` (fp32: no autocast at all)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=AUTOCAST_DTYPES[precision])
