"""Writing a result folder atomically: complete and valid, or not there at all.

Masks are written one frame at a time into a hidden sibling folder; only when every mask and
``res_track.txt`` are written and the folder passes :func:`ctc_submit.validate.validate_result`
does it replace the destination. An interrupted or failed run leaves the destination untouched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np

from ctc_submit.io import CTCInputError, Track, mask_name, read_labels, write_mask, write_tracks
from ctc_submit.validate import TRACK_FILE, ValidationReport, validate_result


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class InvalidResultError(RuntimeError):
    """The result written breaks a CTC rule: a defect of the pipeline, not of the input."""


def check_destination(destination: Path, overwrite: bool) -> None:
    """Refuse a destination that is a file, or a non-empty folder unless ``overwrite``."""
    destination = Path(destination)
    if destination.exists() and not destination.is_dir():
        raise CTCInputError(f"{destination}: exists and is not a folder")
    if destination.is_dir() and any(destination.iterdir()) and not overwrite:
        raise CTCInputError(f"{destination}: folder exists and is not empty (use --overwrite to replace it)")


class SubmissionWriter:
    """Context manager collecting masks in a temporary folder next to ``destination``.

    Use :meth:`write` per frame, :meth:`relabel` to fix frames already written, then
    :meth:`commit` with the tracks; leaving the block without committing removes everything.
    """

    def __init__(self, destination: Path, digits: int, overwrite: bool = False) -> None:
        self.destination = Path(destination)
        self.digits = digits
        self.overwrite = overwrite
        self.folder: Path | None = None

    def __enter__(self) -> SubmissionWriter:
        check_destination(self.destination, self.overwrite)
        self.destination.parent.mkdir(parents=True, exist_ok=True)
        self.folder = self._hidden_sibling(".tmp")
        self.folder.chmod(0o777 & ~_umask())
        return self

    def __exit__(self, *exc_info) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def _hidden_sibling(self, suffix: str) -> Path:
        """A new folder beside the destination (same file system, so moving it is a rename)."""
        return Path(tempfile.mkdtemp(prefix=f".{self.destination.name}.", suffix=suffix, dir=self.destination.parent))

    def path(self, index: int) -> Path:
        assert self.folder is not None, "SubmissionWriter used outside its with-block"
        return self.folder / mask_name(index, self.digits)

    def write(self, index: int, labels: np.ndarray) -> None:
        write_mask(self.path(index), labels)

    def relabel(self, index: int, mapping: dict[int, int]) -> None:
        """Apply {old: new} to an already written frame (new labels must not be in use there)."""
        labels = read_labels(self.path(index))
        for old, new in mapping.items():
            labels[labels == old] = new
        write_mask(self.path(index), labels)

    def commit(self, tracks: Iterable[Track]) -> ValidationReport:
        """Write the tracks, validate the folder and move it into place; returns the validation (warnings only)."""
        assert self.folder is not None, "SubmissionWriter used outside its with-block"
        write_tracks(self.folder / TRACK_FILE, list(tracks))
        report = validate_result(self.folder, num_digits=self.digits)
        if not report.ok:
            raise InvalidResultError("result breaks CTC rules: " + "; ".join(report.errors))
        check_destination(self.destination, self.overwrite)
        if self.destination.exists():
            old = self._hidden_sibling(".old.tmp")
            self.destination.rename(old / self.destination.name)
            self.folder.rename(self.destination)
            shutil.rmtree(old, ignore_errors=True)
        else:
            self.folder.rename(self.destination)
        self.folder = None
        return report
