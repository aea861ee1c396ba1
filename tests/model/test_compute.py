"""Device and precision policy: bf16 only where the hardware runs it natively."""

from __future__ import annotations

import pytest
import torch

from ctc_submit.io import CTCInputError
from ctc_submit.model.compute import CpuReport, autocast, measured_native_bf16, resolve_device, resolve_precision

CPU = torch.device("cpu")


def report(capability="AVX2", avx512_bf16=False, amx=False, machine="x86_64", cap=None) -> CpuReport:
    return CpuReport(capability, avx512_bf16, amx, machine, cap)


@pytest.mark.parametrize(
    ("cpu", "chosen"),
    [
        (report("AVX2"), "fp32"),  # emulated bf16: several times slower
        (report("DEFAULT"), "fp32"),
        (report("AVX512"), "fp32"),  # AVX-512 without its bf16 extension
        (report("AVX512", avx512_bf16=True), "bf16"),
        (report("AVX512", amx=True), "bf16"),
        (report("AVX2", avx512_bf16=True, amx=True), "fp32"),  # torch's kernels capped at AVX2
        (report("AVX512", avx512_bf16=True, cap="AVX2"), "fp32"),  # oneDNN capped below bf16
        (report("AVX512", avx512_bf16=True, cap="avx512_core_bf16"), "bf16"),
    ],
)
def test_auto_picks_bf16_only_on_cpus_that_run_it_natively(cpu, chosen):
    assert resolve_precision("auto", CPU, cpu) == chosen


def test_auto_is_bf16_on_cuda_and_fp32_on_mps_and_explicit_choices_stand():
    assert resolve_precision("auto", torch.device("cuda")) == "bf16"
    assert resolve_precision("auto", torch.device("mps")) == "fp32"
    for precision in ("fp32", "bf16", "fp16"):
        assert resolve_precision(precision, CPU, report("AVX2")) == precision
    with pytest.raises(CTCInputError, match="precision 'half'"):
        resolve_precision("half", CPU)


def test_a_cpu_the_report_does_not_settle_is_measured_once_and_cached(tmp_path):
    arm = report("DEFAULT", machine="aarch64")
    assert arm.native_bf16() is None
    cache = tmp_path / "cache" / "precision.json"
    calls = []

    def measure(speedup):
        def run():
            calls.append(speedup)
            return speedup

        return run

    assert measured_native_bf16(arm, cache, measure(1.8)) is True
    assert measured_native_bf16(arm, cache, measure(0.2)) is True  # cached: not measured again
    assert calls == [1.8] and cache.is_file()
    cache.write_text("not json")
    assert measured_native_bf16(arm, cache, measure(0.2)) is False  # an unreadable cache is measured anew


def test_absent_accelerators_are_input_errors_and_auto_falls_back():
    if not torch.cuda.is_available():
        with pytest.raises(CTCInputError, match="no CUDA device"):
            resolve_device("cuda")
    if not torch.backends.mps.is_available():
        with pytest.raises(CTCInputError, match="MPS"):
            resolve_device("mps")
    assert resolve_device("auto").type in ("cuda", "mps", "cpu")


def test_fp32_runs_without_autocast_and_bf16_with_it():
    layer = torch.nn.Linear(4, 4)
    with autocast(CPU, "fp32"):
        assert layer(torch.ones(1, 4)).dtype == torch.float32
    with autocast(CPU, "bf16"):
        assert layer(torch.ones(1, 4)).dtype == torch.bfloat16
