"""What a batch runs: sequences from a manifest (CSV or YAML) or found in a challenge layout.

A manifest lists ``input``, ``output``, ``dataset`` and optionally ``model`` and ``name`` per
sequence; relative paths are taken from the manifest's folder, so a manifest travels with its data.
A challenge layout is ``ROOT/DATASET/SEQ`` (or ``DATASET/SEQ`` itself), each ``SEQ`` written to
``SEQ_RES`` beside it, as the challenge's submission scripts do.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from ctc_submit.io import CTCInputError

COLUMNS = ("input", "output", "dataset")
OPTIONAL_COLUMNS = ("model", "name")
NOT_SEQUENCES = ("_GT", "_ST", "_RES")
MANIFEST_SUFFIXES = (".csv", ".yaml", ".yml")


@dataclass(frozen=True)
class SequenceItem:
    """One unit of work: ``ctc-submit run input output --dataset dataset [--model model]``."""

    name: str
    input_dir: Path
    output_dir: Path
    dataset: str
    model: Path | None = None


def is_sequence_folder(path: Path) -> bool:
    """A folder of ``tNNN.tif`` frames that is not a GT, silver truth or result folder."""
    return path.is_dir() and not path.name.endswith(NOT_SEQUENCES) and any(path.glob("t[0-9]*.tif"))


def sequences_in(dataset_dir: Path) -> list[Path]:
    return sorted(path for path in dataset_dir.iterdir() if is_sequence_folder(path))


def find_sequences(root: Path, output_root: Path | None = None, model: Path | None = None) -> list[SequenceItem]:
    """Every ``DATASET/SEQ`` under ``root`` (or ``root``'s own sequences when it is a dataset folder),
    written to ``SEQ_RES`` beside it, or in ``output_root/DATASET/`` when the data is read-only."""
    root = Path(root)
    if not root.is_dir():
        raise CTCInputError(f"{root}: folder not found")
    dataset_dirs = [root] if sequences_in(root) else sorted(path for path in root.iterdir() if path.is_dir())
    items = []
    for dataset_dir in dataset_dirs:
        for sequence in sequences_in(dataset_dir):
            results = (Path(output_root) / dataset_dir.name) if output_root else dataset_dir
            items.append(
                SequenceItem(
                    f"{dataset_dir.name}/{sequence.name}", sequence, results / f"{sequence.name}_RES",
                    dataset_dir.name, model,
                )
            )  # fmt: skip
    if not items:
        raise CTCInputError(f"{root}: no sequence found (expected DATASET/SEQ folders of tNNN.tif frames)")
    return items


def read_rows(manifest: Path) -> list[dict]:
    """The manifest's rows as mappings: CSV with a header line, or YAML as a list of mappings
    (or a mapping whose ``sequences`` is that list)."""
    try:
        text = manifest.read_text()
    except OSError as error:
        raise CTCInputError(f"{manifest}: cannot read ({error.strerror})") from None
    if manifest.suffix == ".csv":
        rows = list(csv.DictReader(line for line in text.splitlines() if line.strip() and not line.startswith("#")))
        return [{key.strip(): (value or "").strip() for key, value in row.items() if key} for row in rows]
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CTCInputError(f"{manifest}: not valid YAML ({' '.join(str(error).split())})") from None
    if isinstance(data, dict):
        data = data.get("sequences")
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise CTCInputError(f"{manifest}: expected a list of sequences (mappings with {', '.join(COLUMNS)})")
    return [{str(key): "" if value is None else str(value) for key, value in row.items()} for row in data]


def item_from_row(row: dict, number: int, base: Path, manifest: Path) -> SequenceItem:
    missing = [column for column in COLUMNS if not row.get(column)]
    if missing:
        raise CTCInputError(f"{manifest}: sequence {number}: no {', '.join(missing)}")
    unknown = sorted(set(row) - set(COLUMNS) - set(OPTIONAL_COLUMNS))
    if unknown:
        known = ", ".join(COLUMNS + OPTIONAL_COLUMNS)
        raise CTCInputError(f"{manifest}: sequence {number}: unknown column {unknown[0]!r} (known: {known})")
    input_dir = base / row["input"]
    name = row.get("name") or f"{input_dir.parent.name}/{input_dir.name}"
    model = base / row["model"] if row.get("model") else None
    return SequenceItem(name, input_dir, base / row["output"], row["dataset"], model)


def read_manifest(manifest: Path, model: Path | None = None) -> list[SequenceItem]:
    """The sequences of a CSV or YAML manifest; ``model`` is used where a row names none."""
    manifest = Path(manifest)
    if manifest.suffix not in MANIFEST_SUFFIXES:
        raise CTCInputError(f"{manifest}: a manifest is .csv, .yaml or .yml (or give a folder)")
    rows = read_rows(manifest)
    if not rows:
        raise CTCInputError(f"{manifest}: lists no sequence")
    base = manifest.parent
    items = [item_from_row(row, number, base, manifest) for number, row in enumerate(rows, start=1)]
    return [item if item.model else replace(item, model=model) for item in items]


def check_items(items: list[SequenceItem]) -> None:
    """Two sequences may not share a name (the summary's key) or an output folder (both would write it)."""
    for what, key in (("output folder", lambda item: item.output_dir.resolve()), ("name", lambda item: item.name)):
        repeated = [value for value, count in Counter(map(key, items)).items() if count > 1]
        if repeated:
            raise CTCInputError(f"two sequences have the {what} {repeated[0]}; each needs its own")


def load_items(source: Path, output_root: Path | None = None, model: Path | None = None) -> list[SequenceItem]:
    """The sequences of a manifest file or a challenge-layout folder, checked for clashes."""
    source = Path(source)
    if source.is_dir():
        items = find_sequences(source, output_root, model)
    elif source.is_file():
        if output_root is not None:
            raise CTCInputError(
                "an output root is for a folder in the challenge layout; a manifest names its outputs", "output_root"
            )
        items = read_manifest(source, model)
    else:
        raise CTCInputError(f"{source}: no such manifest or folder")
    check_items(items)
    return items
