"""The one-command demo: DIC-C2DH-HeLa 01 processed exactly as the challenge organisers would.

The organisers run ``SW/DIC-HeLa-01.sh`` from inside ``SW/``, with the data next to it in
``../DIC-C2DH-HeLa/01``, and collect ``../DIC-C2DH-HeLa/01_RES``. The demo builds that layout
in a working folder out of symbolic links to the data, so the script under test is the one
that would be submitted, and the data folder (possibly read-only, possibly shared) is never
written to: the only real folder inside the linked dataset is the result.
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

from ctc_submit.io import CTCInputError
from ctc_submit.scripts import write_scripts
from ctc_submit.submission import check_destination

DATASET = "DIC-C2DH-HeLa"
SEQUENCE = "01"
SCRIPT = "DIC-HeLa-01.sh"
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


def dataset_in(folder: Path) -> Path | None:
    """``folder/DIC-C2DH-HeLa`` or ``folder`` itself, when it holds sequence 01 and its GT."""
    for candidate in (folder / DATASET, folder):
        if all((candidate / name).is_dir() for name in LINKED):
            return candidate
    return None


def find_dataset(data: Path | None, environ: Mapping[str, str], reusable: list[Path]) -> Path | None:
    """The dataset from ``--data``, then ``$CTC_DATA``, then an earlier download; None: download it.

    A folder the user named explicitly must hold the data: falling back to a download would
    hide a typo behind a long transfer.
    """
    named = [(data, "the data folder given")] if data is not None else []
    if environ.get("CTC_DATA"):
        named.append((Path(environ["CTC_DATA"]), "CTC_DATA"))
    if named:
        folder, source = named[0]
        found = dataset_in(folder)
        if found is None:
            raise CTCInputError(
                f"{folder} ({source}): no {DATASET}/{SEQUENCE} and {DATASET}/{SEQUENCE}_GT folders in it",
                "data" if data is not None else None,
            )
        return found
    return next((found for folder in reusable if (found := dataset_in(folder)) is not None), None)


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


def make_layout(data: Path, workdir: Path, scripts: Path | None = None) -> Layout:
    """``WORK/DIC-C2DH-HeLa/{01,01_GT}`` linked to ``data``; ``WORK/SW`` the challenge scripts as
    ``ctc-submit scripts`` writes them, or a copy of the folder ``scripts``."""
    data = Path(data).resolve()
    workdir = Path(workdir).resolve()
    if workdir == data or data in workdir.parents:
        raise CTCInputError(f"{workdir}: working folder inside the data folder {data}; the data must stay untouched")
    if scripts is not None and not (scripts / SCRIPT).is_file():
        raise CTCInputError(f"{scripts / SCRIPT}: run script not found")
    dataset = workdir / DATASET
    try:
        dataset.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CTCInputError(f"{dataset}: cannot create the working folder ({error.strerror})") from None
    for name in LINKED:
        _link(dataset / name, data / name)
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
        write_scripts(software, [DATASET])
    else:
        shutil.copytree(scripts, software, symlinks=True)
    return Layout(workdir, dataset, software)


def run_script(layout: Layout, environ: Mapping[str, str]) -> None:
    """Run ``SW/DIC-HeLa-01.sh`` from ``SW/``, with this interpreter's ``ctc-submit`` first on PATH."""
    env = dict(environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    completed = subprocess.run(["bash", SCRIPT], cwd=layout.software, env=env)
    if completed.returncode != 0:
        raise DemoError(f"{layout.software / SCRIPT} failed with exit status {completed.returncode}")
    if not layout.result.is_dir():
        raise DemoError(f"{layout.software / SCRIPT} wrote no {layout.result}")


def score(layout: Layout) -> dict[str, float | None]:
    """The official measures of the result, with their logs in ``WORK/evaluation``."""
    from ctc_submit.evaluation import evaluate

    logs = layout.workdir / "evaluation"
    logs.mkdir(exist_ok=True)
    scores = evaluate(layout.dataset, SEQUENCE, log_dir=logs)
    (logs / "scores.json").write_text(json.dumps(scores, indent=2) + "\n")
    return scores


def pictures(layout: Layout) -> dict[str, Path]:
    from ctc_submit.render import render

    return render(layout.result, layout.workdir / "pictures", layout.images)
