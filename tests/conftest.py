"""Shared fixtures: where the real CTC data and the official evaluators' verdicts live; the TIFFs a test writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import tifffile

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("CTC_SUBMIT_SHARED", REPO_ROOT.parent / "shared"))


MISSING_DATA = "test data not found"


def require(path: Path) -> Path:
    """Return ``path``; skip when it is absent, but fail under CI=true (data must be there)."""
    if path.exists():
        return path
    message = f"{MISSING_DATA}: {path} (set CTC_SUBMIT_SHARED)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def pytest_terminal_summary(terminalreporter) -> None:
    """Tests skipped for want of the data must not pass unnoticed among the dots: one loud line."""
    skipped = [
        report for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple) and MISSING_DATA in str(report.longrepr[2])
    ]  # fmt: skip
    if skipped:
        terminalreporter.write_line(
            f"{len(skipped)} tests SKIPPED: {MISSING_DATA} in {SHARED_DIR}. Put the CTC data (ctc-data/) and the "
            "evaluators' verdicts (eval-fixtures/) there or point CTC_SUBMIT_SHARED at them; "
            "'ctc-submit download DIC-C2DH-HeLa --dest SHARED/ctc-data' fetches the public data.",
            red=True, bold=True,
        )  # fmt: skip


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return require(SHARED_DIR)


@pytest.fixture(scope="session")
def ctc_data(shared_dir: Path) -> Path:
    return require(shared_dir / "ctc-data")


@pytest.fixture(scope="session")
def eval_fixtures(shared_dir: Path) -> Path:
    return require(shared_dir / "eval-fixtures")


@pytest.fixture()
def tiff_writes(monkeypatch) -> list[str]:
    """The names of the TIFF files written during the test, in order, once per write."""
    written: list[str] = []
    imwrite = tifffile.imwrite

    def counting(path, *args, **kwargs):
        written.append(Path(path).name)
        return imwrite(path, *args, **kwargs)

    monkeypatch.setattr(tifffile, "imwrite", counting)
    return written
