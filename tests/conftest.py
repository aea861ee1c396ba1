"""Shared fixtures: where the real CTC data and the official evaluators' verdicts live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("CTC_SUBMIT_SHARED", REPO_ROOT.parent / "shared"))


def require(path: Path) -> Path:
    """Return ``path``; skip when it is absent, but fail under CI=true (data must be there)."""
    if path.exists():
        return path
    message = f"test data not found: {path} (set CTC_SUBMIT_SHARED)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return require(SHARED_DIR)


@pytest.fixture(scope="session")
def ctc_data(shared_dir: Path) -> Path:
    return require(shared_dir / "ctc-data")


@pytest.fixture(scope="session")
def eval_fixtures(shared_dir: Path) -> Path:
    return require(shared_dir / "eval-fixtures")
