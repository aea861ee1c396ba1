"""Reading and writing the Cell Tracking Challenge file formats.

Everything that touches a CTC folder goes through here, so the rules the official
tools enforce (uint16 zlib masks, ``L B E P`` lines, matching digit counts) live in
one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import tifffile


class CTCInputError(Exception):
    """A user-facing problem with input files: reported as one line, no traceback."""


FRAME_NAME = re.compile(r"^t(\d{3,})\.tiff?$")


@dataclass(frozen=True, order=True)
class Track:
    """One line of ``res_track.txt``/``man_track.txt``: label, begin, end, parent."""

    label: int
    begin: int
    end: int
    parent: int


def list_indexed_files(folder: Path, pattern: re.Pattern[str]) -> list[tuple[int, Path]]:
    """(index, path) of files whose name matches ``pattern`` (group 1 = index), sorted by index."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CTCInputError(f"{folder}: folder not found")
    found = []
    for path in folder.iterdir():
        match = pattern.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    found.sort()
    return found


def list_frames(sequence_dir: Path) -> list[Path]:
    """Input frames ``tNNN.tif`` of a sequence, in time order; numbering gaps are an error."""
    frames = list_indexed_files(sequence_dir, FRAME_NAME)
    if not frames:
        raise CTCInputError(f"{sequence_dir}: no frames named tNNN.tif")
    first = frames[0][0]
    for expected, (index, path) in enumerate(frames, start=first):
        if index != expected:
            raise CTCInputError(f"{sequence_dir}: frame t{expected:0{digits_of(path)}d} is missing (gap before {path.name})")
    return [path for _, path in frames]


def digits_of(path: Path) -> int:
    """Number of digits of the time index in a CTC file name (``t0001.tif`` -> 4)."""
    match = re.search(r"(\d+)(?:_\d+)?\.tiff?$", Path(path).name)
    if not match:
        raise CTCInputError(f"{path}: no time index in file name")
    return len(match.group(1))


def read_tiff(path: Path) -> np.ndarray:
    """Read a TIFF (LZW/zlib/packbits/... via imagecodecs), naming the file on failure."""
    path = Path(path)
    if not path.is_file():
        raise CTCInputError(f"{path}: file not found")
    try:
        return tifffile.imread(path)
    except Exception as error:  # tifffile raises many types for corrupt files
        raise CTCInputError(f"{path}: unreadable TIFF ({error})") from None


def read_frame(path: Path) -> np.ndarray:
    """A 2D grayscale input frame; RGB or 3D stacks are rejected with the file named."""
    image = read_tiff(path)
    if image.ndim != 2:
        raise CTCInputError(f"{path}: expected a 2D grayscale frame, got shape {image.shape}")
    if image.dtype.kind not in "uif":
        raise CTCInputError(f"{path}: unsupported pixel type {image.dtype}")
    return image


def read_labels(path: Path) -> np.ndarray:
    """A 2D integer label image (mask, man_seg, man_track); float images are rejected."""
    labels = read_tiff(path)
    if labels.dtype.kind not in "ui":
        raise CTCInputError(f"{path}: label image must be integer, got {labels.dtype}")
    return labels


def mask_name(index: int, digits: int) -> str:
    return f"mask{index:0{digits}d}.tif"


def write_mask(path: Path, labels: np.ndarray) -> None:
    """Write a uint16 label image with zlib compression (the official tools reject zstd)."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"mask must be 2D, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > np.iinfo(np.uint16).max):
        raise ValueError("labels do not fit in uint16")
    tifffile.imwrite(path, labels.astype(np.uint16), compression="zlib")


def parse_tracks(text: str, source: str = "res_track.txt") -> list[Track]:
    """Parse ``L B E P`` lines as tolerantly as the official parser (any whitespace, CRLF)."""
    tracks = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 4:
            raise CTCInputError(f"{source}:{number}: expected 4 numbers 'L B E P', got {line!r}")
        try:
            label, begin, end, parent = (int(field) for field in fields)
        except ValueError:
            raise CTCInputError(f"{source}:{number}: not an integer in {line!r}") from None
        tracks.append(Track(label, begin, end, parent))
    return tracks


def read_tracks(path: Path) -> list[Track]:
    path = Path(path)
    if not path.is_file():
        raise CTCInputError(f"{path}: file not found")
    return parse_tracks(path.read_text(errors="replace"), str(path))


def format_tracks(tracks: Iterable[Track]) -> str:
    """Exactly ``L B E P\\n`` per track, sorted by label: no blank lines, no trailing spaces."""
    return "".join(f"{t.label} {t.begin} {t.end} {t.parent}\n" for t in sorted(tracks))


def write_tracks(path: Path, tracks: Sequence[Track]) -> None:
    Path(path).write_text(format_tracks(tracks))
