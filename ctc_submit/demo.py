"""The one-command demo: sequence 01 of a dataset processed exactly as the challenge organisers would.

For DIC-C2DH-HeLa the organisers run ``SW/DIC-HeLa-01.sh`` from inside ``SW/``, with the data
next to it in ``../DIC-C2DH-HeLa/01``, and collect ``../DIC-C2DH-HeLa/01_RES``. The demo builds
that layout in a working folder out of symbolic links to the data, so the script under test is
the one that would be submitted, and the data folder (possibly read-only, possibly shared) is
never written to: the only real folder inside the linked dataset is the result. Datasets share a
working folder: each has its own dataset folder, scores and pictures; ``SW/`` holds the scripts
of the latest one.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ctc_submit.datasets import DATASETS
from ctc_submit.io import CTCInputError
from ctc_submit.presets import get_preset
from ctc_submit.registry import registered_model
from ctc_submit.scripts import script_name, write_scripts
from ctc_submit.submission import check_destination

DEFAULT_DATASET = "DIC-C2DH-HeLa"
SEQUENCE = "01"
LINKED = (SEQUENCE, f"{SEQUENCE}_GT")
VIZ_MODULES = {"matplotlib": "matplotlib", "PIL": "pillow"}


class DemoError(Exception):
    """A step of the demo failed for a reason other than the user's input."""


def check_viz_installed() -> None:
    """The demo ends by drawing its result: without the viz extra it must say so before the run, not after."""
    missing = [package for module, package in VIZ_MODULES.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise CTCInputError(
            f"the demo draws its result with {' and '.join(missing)}: install the viz extra first "
            "(pip install 'ctc_submit[viz]')"
        )


def demo_dataset(name: str, environ: Mapping[str, str]) -> str:
    """The challenge name of a dataset the demo can run, refused as ``ctc-submit run`` would refuse it:
    without a preset, or without a registered model. Checked before anything is downloaded or written."""
    dataset = get_preset(name).name
    registered_model(dataset, environ)
    return dataset


def dataset_in(name: str, folder: Path) -> Path | None:
    """``folder/NAME`` or ``folder`` itself, when it holds sequence 01 and its GT; not ``folder`` itself
    when it is named after another dataset, whose frames would be tracked with the wrong model."""
    candidates = [folder / name]
    if Path(os.path.abspath(folder)).name not in set(DATASETS) - {name}:
        candidates.append(folder)
    for candidate in candidates:
        if all((candidate / entry).is_dir() for entry in LINKED):
            return candidate
    return None


def find_dataset(name: str, data: Path | None, environ: Mapping[str, str], reusable: list[Path]) -> Path | None:
    """Dataset ``name`` (challenge name) from ``data``, then ``$CTC_DATA``, then an earlier download;
    None: download it.

    A folder the user named explicitly must hold the data: falling back to a download would
    hide a typo behind a long transfer.
    """
    named = [(data, "the data folder given")] if data is not None else []
    if environ.get("CTC_DATA"):
        named.append((Path(environ["CTC_DATA"]), "CTC_DATA"))
    if named:
        folder, source = named[0]
        found = dataset_in(name, folder)
        if found is None:
            raise CTCInputError(
                f"{folder} ({source}): no {name}/{SEQUENCE} and {name}/{SEQUENCE}_GT folders in it",
                "data" if data is not None else None,
            )
        return found
    return next((found for folder in reusable if (found := dataset_in(name, folder)) is not None), None)


@dataclass(frozen=True)
class Layout:
    """The challenge layout of the working folder."""

    workdir: Path
    dataset: Path
    software: Path

    @property
    def result(self) -> Path:
        return self.dataset / f"{SEQUENCE}_RES"

    @property
    def images(self) -> Path:
        return self.dataset / SEQUENCE

    @property
    def script(self) -> str:
        """The script the organisers would run, named as ``ctc-submit scripts`` names it."""
        return script_name(self.dataset.name, SEQUENCE)

    @property
    def evaluation(self) -> Path:
        return self.workdir / "evaluation" / self.dataset.name

    @property
    def pictures(self) -> Path:
        return self.workdir / "pictures" / self.dataset.name


def _link(link: Path, target: Path) -> None:
    """Point ``link`` at ``target``; an existing link is replaced, anything else is refused."""
    if link.is_symlink():
        if Path(os.readlink(link)) == target:
            return
        link.unlink()
    elif link.exists():
        raise CTCInputError(
            f"{link}: exists and is not a link made by the demo (choose another working folder)", "workdir"
        )
    link.symlink_to(target, target_is_directory=True)


def make_layout(name: str, data: Path, workdir: Path, scripts: Path | None = None) -> Layout:
    """``WORK/NAME/{01,01_GT}`` linked to ``data`` (dataset ``name``, challenge name); ``WORK/SW`` the
    dataset's challenge scripts as ``ctc-submit scripts`` writes them, or a copy of the folder ``scripts``."""
    data = Path(data).resolve()
    workdir = Path(workdir).resolve()
    if workdir == data or data in workdir.parents:
        raise CTCInputError(f"{workdir}: working folder inside the data folder {data}; the data must stay untouched")
    script = script_name(name, SEQUENCE)
    if scripts is not None and not (scripts / script).is_file():
        raise CTCInputError(f"{scripts / script}: run script not found")
    dataset = workdir / name
    try:
        dataset.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CTCInputError(f"{dataset}: cannot create the working folder ({error.strerror})") from None
    for entry in LINKED:
        _link(dataset / entry, data / entry)
    result = dataset / f"{SEQUENCE}_RES"
    if result.is_symlink() or result.is_file():
        raise CTCInputError(
            f"{result}: exists and is not a folder of the demo (choose another working folder)", "workdir"
        )
    check_destination(result, overwrite=True)
    software = workdir / "SW"
    if software.is_symlink() or software.is_file() or (software.is_dir() and any(
        not (entry.is_file() and entry.suffix == ".sh") for entry in software.iterdir()
    )):  # fmt: skip
        raise CTCInputError(
            f"{software}: holds more than the demo's run scripts (choose another working folder)", "workdir"
        )
    shutil.rmtree(result, ignore_errors=True)
    shutil.rmtree(software, ignore_errors=True)
    if scripts is None:
        write_scripts(software, [name])
    else:
        shutil.copytree(scripts, software, symlinks=True)
    return Layout(workdir, dataset, software)


def run_script(layout: Layout, environ: Mapping[str, str]) -> None:
    """Run the dataset's script (``SW/DIC-HeLa-01.sh`` for DIC-C2DH-HeLa) from ``SW/``, with this
    interpreter's ``ctc-submit`` first on PATH."""
    env = dict(environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    script = layout.software / layout.script
    completed = subprocess.run(["bash", layout.script], cwd=layout.software, env=env)
    if completed.returncode != 0:
        raise DemoError(f"{script} failed with exit status {completed.returncode}")
    if not layout.result.is_dir():
        raise DemoError(f"{script} wrote no {layout.result}")


def score(layout: Layout) -> dict[str, float | None]:
    """The official measures of the result, with their logs in ``WORK/evaluation/NAME``."""
    from ctc_submit.evaluation import evaluate

    logs = layout.evaluation
    logs.mkdir(parents=True, exist_ok=True)
    scores = evaluate(layout.dataset, SEQUENCE, log_dir=logs)
    (logs / "scores.json").write_text(json.dumps(scores, indent=2) + "\n")
    return scores


def pictures(layout: Layout) -> dict[str, Path]:
    from ctc_submit.render import render

    return render(layout.result, layout.pictures, layout.images)
