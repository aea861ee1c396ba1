"""Writing a result folder atomically: complete and valid, or not there at all.

Masks are written one frame at a time into a hidden sibling folder, each checked as it is
written; only when every mask and ``res_track.txt`` are written and the result passes the rules
of :func:`ctc_submit.validate.validate_result` does the folder replace the destination. An
interrupted or failed run leaves the destination untouched.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ctc_submit.download import require_space
from ctc_submit.io import CTCInputError, Track, check_replaceable, mask_layout, mask_name, write_mask, write_tracks
from ctc_submit.validate import TRACK_FILE, MaskScan, ValidationReport, validate_written

# What a previous result may hold: masks, the track file and the evaluators' logs. --overwrite
# replaces nothing else, so a mistyped destination can never delete the user's data.
RESULT_FILE = re.compile(r"^(mask\d+\.tiff?|res_track\.txt|[A-Z]+_log\.txt)$")
# Hidden working folders beside the destination carry the id of the process that owns them.
WORKING_FOLDER = re.compile(r"^\.(?P<name>.+)\.pid(?P<pid>\d+)\.[^.]+(\.old)?\.tmp$")
MASK_BYTES_PER_PIXEL = 2  # uint16; compression only makes the files smaller


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class InvalidResultError(RuntimeError):
    """The result written breaks a CTC rule: a defect of the pipeline, not of the input."""


def sequence_folders(input_dir: Path) -> list[Path]:
    """A sequence folder and its ``_GT``/``_ST`` siblings: what no output may touch."""
    input_dir = Path(input_dir)
    return [input_dir, *(input_dir.with_name(input_dir.name + suffix) for suffix in ("_GT", "_ST"))]


def check_apart(destination: Path, protected: Iterable[Path]) -> None:
    """Refuse a destination that is, contains or lies inside a protected folder."""
    target = Path(destination).resolve()
    for folder in protected:
        kept = Path(folder).resolve()
        if target == kept or kept in target.parents or target in kept.parents:
            raise CTCInputError(f"{destination}: output folder overlaps the input folder {folder}; choose another")


def check_destination(destination: Path, overwrite: bool, protected: Iterable[Path] = ()) -> None:
    """Refuse a destination that is a file, overlaps a protected folder, or is a non-empty folder
    unless ``overwrite`` -- and even then only a folder that holds nothing but a previous result."""
    check_apart(destination, protected)
    check_replaceable(
        destination, overwrite, lambda entry: entry.is_file() and bool(RESULT_FILE.match(entry.name)),
        "a result folder", "maskNNN.tif, res_track.txt and logs",
    )  # fmt: skip


def check_room(destination: Path, frames: int, shape: tuple[int, int]) -> None:
    """Before any heavy work: the destination can be created and written, and the masks fit on the disk."""
    destination = Path(destination).absolute()
    existing = next(folder for folder in (destination, *destination.parents) if folder.exists())
    if not existing.is_dir():
        raise CTCInputError(f"{destination}: cannot be created ({existing} is a file, not a folder)")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=f".{destination.name}.probe.", dir=existing))
    except OSError as error:
        raise CTCInputError(f"{destination}: cannot write in {existing} ({error.strerror})") from None
    require_space(existing, frames * shape[0] * shape[1] * MASK_BYTES_PER_PIXEL, f"{frames} masks")


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_working_folders(destination: Path) -> None:
    """Hidden folders left beside ``destination`` by runs that were killed (their process is gone)."""
    destination = Path(destination)
    if not destination.parent.is_dir():
        return
    for path in destination.parent.iterdir():
        match = WORKING_FOLDER.match(path.name)
        if match and match["name"] == destination.name and path.is_dir() and not process_alive(int(match["pid"])):
            shutil.rmtree(path, ignore_errors=True)


class SubmissionWriter:
    """Context manager collecting masks in a temporary folder next to ``destination``.

    Use :meth:`write` once per frame, in order (each mask is checked as it is written and never
    read back), then :meth:`commit` with the tracks; leaving the block without committing removes
    everything.
    """

    def __init__(self, destination: Path, digits: int, overwrite: bool = False, protected: Sequence[Path] = ()) -> None:
        self.destination = Path(destination)
        self.digits = digits
        self.overwrite = overwrite
        self.protected = list(protected)
        self.folder: Path | None = None
        self.scan = MaskScan()
        self.frames = 0

    def __enter__(self) -> SubmissionWriter:
        check_destination(self.destination, self.overwrite, self.protected)
        self.destination.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_working_folders(self.destination)
        self.folder = self._hidden_sibling(".tmp")
        self.folder.chmod(0o777 & ~_umask())
        return self

    def __exit__(self, *exc_info) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def _hidden_sibling(self, suffix: str) -> Path:
        """A new folder beside the destination (same file system, so moving it is a rename)."""
        prefix = f".{self.destination.name}.pid{os.getpid()}."
        return Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=self.destination.parent))

    def write(self, index: int, labels: np.ndarray) -> None:
        """Write and check the mask of frame ``index``, the frame after the last one written."""
        assert self.folder is not None, "SubmissionWriter used outside its with-block"
        if index != self.frames:
            raise ValueError(f"frame {index} written out of order: frame {self.frames} is next")
        name = mask_name(index, self.digits)
        mask = write_mask(self.folder / name, labels)
        self.scan.add_mask(index, name, mask, mask_layout(mask))
        self.frames += 1

    def commit(self, tracks: Iterable[Track]) -> ValidationReport:
        """Write the tracks, validate the result against the masks' scan and move the folder into place;
        returns the validation (warnings only)."""
        assert self.folder is not None, "SubmissionWriter used outside its with-block"
        tracks = list(tracks)
        write_tracks(self.folder / TRACK_FILE, tracks)
        report = validate_written(self.scan, self.frames, self.digits, tracks)
        if not report.ok:
            raise InvalidResultError("result breaks CTC rules: " + "; ".join(report.errors))
        check_destination(self.destination, self.overwrite, self.protected)
        if self.destination.exists():
            old = self._hidden_sibling(".old.tmp")
            self.destination.rename(old / self.destination.name)
            self.folder.rename(self.destination)
            shutil.rmtree(old, ignore_errors=True)
        else:
            self.folder.rename(self.destination)
        self.folder = None
        return report
