"""The challenge's run scripts, written from the dataset table by ``ctc-submit scripts``.

A challenge submission holds one ``DATASET-SEQ.sh`` per dataset and sequence. The organisers run
it from its own folder on ``../DATASET/SEQ`` and collect ``../DATASET/SEQ_RES``. Each script only
calls the ``ctc-submit`` entry point, so it works with any install of the package and never points
into a source checkout; the project's ``run_scripts/`` folder is this module's output.
"""

from __future__ import annotations

from pathlib import Path

from ctc_submit.datasets import DATASETS, dataset_named
from ctc_submit.io import CTCInputError
from ctc_submit.presets import PRESETS

SEQUENCES = ("01", "02")
TEMPLATE = """\
#!/usr/bin/env bash
# {title}, sequence {sequence}: reads ../{dataset}/{sequence}, writes ../{dataset}/{sequence}_RES (replacing it).
# Run from this script's folder, as the Cell Tracking Challenge does. Arguments go to 'ctc-submit run', e.g.
# --score (score against ../{dataset}/{sequence}_GT), --device cpu, --clustering exact, --model PATH.
set -euo pipefail
here="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
command -v ctc-submit >/dev/null 2>&1 || {{ echo "{missing}" >&2; exit 2; }}
exec ctc-submit run "$here/../{dataset}/{sequence}" "$here/../{dataset}/{sequence}_RES" --dataset {dataset} --overwrite "$@"
"""
MISSING = "Error: ctc-submit not found on PATH (install the ctc_submit package, or activate its environment)"
# The paper's short name runs the challenge-named script, so each sequence's command is written once.
ALIAS = """\
#!/usr/bin/env bash
# {short_name} (the paper's name for {dataset}), sequence {sequence}: runs {target} with the same arguments.
exec "$(dirname "${{BASH_SOURCE[0]}}")/{target}" "$@"
"""


def script_name(dataset: str, sequence: str, short: bool = True) -> str:
    """File name of a dataset's script for a sequence: the paper's short name where the dataset has one
    and ``short`` asks for it (the name the paper's users know), else the challenge name."""
    found = dataset_named(dataset)
    return f"{(short and found.short_name) or found.name}-{sequence}.sh"


def scripts_for(datasets: list[str] | None = None) -> dict[str, str]:
    """File name -> text of the scripts of ``datasets`` (default: every dataset the method has a preset
    for), under the challenge name and, where the paper used one, the short name too (running the former)."""
    scripts = {}
    for name in datasets or list(PRESETS):
        dataset = DATASETS[name]
        title = f"{name} (the paper's {dataset.short_name})" if dataset.short_name else name
        for sequence in SEQUENCES:
            target = script_name(name, sequence, short=False)
            scripts[target] = TEMPLATE.format(title=title, dataset=name, sequence=sequence, missing=MISSING)
            if dataset.short_name:
                alias = ALIAS.format(short_name=dataset.short_name, dataset=name, sequence=sequence, target=target)
                scripts[script_name(name, sequence)] = alias
    return dict(sorted(scripts.items()))


def write_scripts(dest: Path, datasets: list[str] | None = None, overwrite: bool = False) -> list[Path]:
    """Write the scripts into ``dest``, executable; a different file of the same name is only replaced with ``overwrite``."""
    scripts = scripts_for(datasets)
    dest = Path(dest)
    clashes = [name for name, text in scripts.items() if (dest / name).exists() and not _holds(dest / name, text)]
    if clashes and not overwrite:
        raise CTCInputError(
            f"{dest / clashes[0]}: exists and differs ({len(clashes)} such file(s); overwriting replaces them)",
            "overwrite",
        )
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for name, text in scripts.items():
            path = dest / name
            path.write_text(text)
            mode = path.stat().st_mode
            path.chmod(mode | (mode & 0o444) >> 2)  # executable by whoever may read it
    except OSError as error:
        raise CTCInputError(f"{dest}: cannot write the scripts there ({error.strerror or error})") from None
    return [dest / name for name in scripts]


def _holds(path: Path, text: str) -> bool:
    try:
        return path.is_file() and path.read_text() == text
    except (OSError, UnicodeDecodeError):
        return False
