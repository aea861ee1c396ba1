"""The 2D datasets of the Cell Tracking Challenge, as one table: names, archives, checksums.

``run``, ``download``, ``train`` and the challenge scripts all look names up here, so a dataset
known to one command is known to all of them under the same names. Whether the method has a
preset for a dataset lives in :mod:`ctc_submit.presets`, whether a model ships in
:mod:`ctc_submit.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ctc_submit.io import CTCInputError

URL_BASE = "https://data.celltrackingchallenge.net"
KIND_FOLDERS = {"training": "training-datasets", "test": "test-datasets"}


@dataclass(frozen=True)
class Dataset:
    """One dataset: its challenge name, the paper's short name if any, and its archives' checksums where known."""

    name: str
    description: str
    short_name: str | None = None
    sha256: tuple[tuple[str, str], ...] = ()  # (kind, sha256 of the zip); empty where not known

    def url(self, kind: str = "training", url_base: str = URL_BASE) -> str:
        """Address of the dataset's zip of ``kind`` (training or test)."""
        if kind not in KIND_FOLDERS:
            raise CTCInputError(f"unknown kind {kind!r}; use one of: {', '.join(KIND_FOLDERS)}")
        if not url_base.startswith(("http://", "https://")):
            raise CTCInputError(f"download address {url_base!r}: expected an http:// or https:// address", "url_base")
        return f"{url_base.rstrip('/')}/{KIND_FOLDERS[kind]}/{self.name}.zip"

    def archive_sha256(self, kind: str) -> str | None:
        return dict(self.sha256).get(kind)


DATASETS: dict[str, Dataset] = {
    dataset.name: dataset
    for dataset in [
        Dataset("BF-C2DL-HSC", "mouse hematopoietic stem cells, bright field"),
        Dataset("BF-C2DL-MuSC", "mouse muscle stem cells, bright field"),
        Dataset("DIC-C2DH-HeLa", "HeLa cells on a flat glass, DIC", short_name="DIC-HeLa"),
        Dataset("Fluo-C2DL-Huh7", "human hepatocarcinoma-derived cells, fluorescence"),
        Dataset("Fluo-C2DL-MSC", "rat mesenchymal stem cells, fluorescence"),
        Dataset("Fluo-N2DH-GOWT1", "GFP-GOWT1 mouse stem cell nuclei, fluorescence"),
        Dataset("Fluo-N2DH-SIM+", "simulated HL60 nuclei, fluorescence"),
        Dataset("Fluo-N2DL-HeLa", "HeLa nuclei expressing H2b-GFP, fluorescence"),
        Dataset("PhC-C2DH-U373", "glioblastoma-astrocytoma U373 cells, phase contrast"),
        Dataset("PhC-C2DL-PSC", "pancreatic stem cells, phase contrast"),
    ]
}
SHORT_NAMES: dict[str, str] = {dataset.short_name: dataset.name for dataset in DATASETS.values() if dataset.short_name}


def dataset_named(name: str) -> Dataset:
    """A dataset by its challenge name or short name; an unknown name is an input error listing the known ones."""
    dataset = DATASETS.get(SHORT_NAMES.get(name, name))
    if dataset is None:
        raise CTCInputError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return dataset
