"""Run the official SEGMeasure / TRAMeasure / DETMeasure executables.

They take ``DATASET SEQ NUM_DIGITS``, read ``DATASET/SEQ_GT`` and ``DATASET/SEQ_RES`` and
write their ``*_log.txt`` into ``SEQ_RES``. To keep those logs out of the user's folders
(and to score a result folder that is not named ``SEQ_RES``), they run on a temporary
dataset: ``SEQ_GT`` a link to the reference, ``SEQ_RES`` a fresh folder of links to the
result's files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable

from ctc_submit.io import CTCInputError

TOOLS = {"SEG": "SEGMeasure", "TRA": "TRAMeasure", "DET": "DETMeasure"}
TOOLS_ENV = "CTC_EVALUATION_TOOLS"
MEASURE_LINE = re.compile(r"^\s*(SEG|TRA|DET) measure: ([0-9.eE+-]+)\s*$", re.MULTILINE)


def find_tool(name: str) -> Path:
    """The executable ``name`` from ``$CTC_EVALUATION_TOOLS``, else from ``PATH``."""
    folder = os.environ.get(TOOLS_ENV)
    if folder:
        for candidate in (Path(folder) / name, Path(folder) / f"{name}.exe"):
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise CTCInputError(
        f"{name} not found: install the official CTC evaluation software "
        f"(celltrackingchallenge.net) and put its folder on PATH or in ${TOOLS_ENV}"
    )


def stage(workdir: Path, seq: str, gt_dir: Path, res_dir: Path) -> Path:
    """A dataset folder under ``workdir`` whose ``SEQ_GT``/``SEQ_RES`` point at the real data."""
    dataset = workdir / "dataset"
    staged_res = dataset / f"{seq}_RES"
    staged_res.mkdir(parents=True)
    (dataset / f"{seq}_GT").symlink_to(Path(gt_dir).resolve(), target_is_directory=True)
    for path in Path(res_dir).iterdir():
        if not path.name.endswith("_log.txt"):
            (staged_res / path.name).symlink_to(path.resolve())
    return dataset


def run_tool(tool: Path, dataset: Path, seq: str, digits: int, measure: str) -> float:
    """Run one executable; its ``X measure: v`` line, or its complaint as one line."""
    try:
        completed = subprocess.run(
            [str(tool), str(dataset), seq, str(digits)], capture_output=True, text=True, errors="replace"
        )
    except OSError as error:
        raise CTCInputError(f"{tool}: cannot run ({error})") from None
    output = completed.stdout + completed.stderr
    values = {name: value for name, value in MEASURE_LINE.findall(output)}
    if completed.returncode != 0 or measure not in values:
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        said = lines[0] if lines else "no output"
        raise CTCInputError(f"{tool.name} refused the result (exit code {completed.returncode}): {said}")
    return float(values[measure])


def official_measures(
    gt_dir: Path, res_dir: Path, seq: str, digits: int, measures: Iterable[str], log_dir: Path | None = None
) -> dict[str, float]:
    """SEG/TRA/DET from the official executables; their logs are copied to ``log_dir`` if given."""
    measures = list(measures)
    tools = {measure: find_tool(TOOLS[measure]) for measure in measures}
    with tempfile.TemporaryDirectory(prefix="ctc-official-") as workdir:
        dataset = stage(Path(workdir), seq, gt_dir, res_dir)
        values = {measure: run_tool(tool, dataset, seq, digits, measure) for measure, tool in tools.items()}
        if log_dir is not None:
            Path(log_dir).mkdir(parents=True, exist_ok=True)
            for measure in measures:
                log = dataset / f"{seq}_RES" / f"{measure}_log.txt"
                if log.is_file():
                    shutil.copyfile(log, Path(log_dir) / log.name)
    return values
