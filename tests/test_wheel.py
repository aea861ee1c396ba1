"""The wheel holds what an install without the checkout needs: every package, the models, the licence."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD_INPUTS = ("setup.cfg", "pyproject.toml", "README.md", "LICENSE", "ctc_submit", "models")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """Built without dependencies or an isolated build environment, from a copy (no build/ in the checkout)."""
    source = tmp_path_factory.mktemp("source")
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "-q",
        "-w",
        str(out),
        str(source),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    (built,) = out.glob("ctc_submit-*.whl")
    return zipfile.ZipFile(built)


def test_every_package_of_the_source_is_in_the_wheel(wheel):
    packages = {str(init.parent.relative_to(ROOT)) for init in (ROOT / "ctc_submit").rglob("__init__.py")}
    assert {f"{package}/__init__.py" for package in packages} <= set(wheel.namelist())


def test_the_wheel_holds_each_registered_model_with_its_checksum_and_card(wheel):
    registry = json.loads(wheel.read("ctc_submit/models/registry.json"))
    assert "DIC-C2DH-HeLa" in registry
    for entry in registry.values():
        assert hashlib.sha256(wheel.read(f"ctc_submit/models/{entry['file']}")).hexdigest() == entry["sha256"]
        assert json.loads(wheel.read(f"ctc_submit/models/{entry['card']}"))


def test_the_wheel_carries_the_licence_and_the_command(wheel):
    names = wheel.namelist()
    assert any(name.endswith(".dist-info/licenses/LICENSE") or name.endswith(".dist-info/LICENSE") for name in names)
    entry_points = next(name for name in names if name.endswith(".dist-info/entry_points.txt"))
    assert "ctc-submit = ctc_submit.cli:main" in wheel.read(entry_points).decode()
