"""Reading and writing the Cell Tracking Challenge file formats.

Everything that touches a CTC folder goes through here, so the rules the official
tools enforce (uint16 zlib masks, ``L B E P`` lines, matching digit counts) live in
one place.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import tifffile


class CTCInputError(Exception):
    """A user-facing problem with input files: reported as one line, no traceback.

    ``option`` names the parameter that would settle it (e.g. ``"overwrite"``): the message says
    what to do in plain words, and each interface names the parameter its own way (the CLI as a flag).
    """

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


FRAME_NAME = re.compile(r"^t(\d{3,})\.tiff?$")
MAN_TRACK_NAME = re.compile(r"^man_track(\d+)\.tif$")

INT32_MAX = 2**31 - 1
# What the official parser skips between numbers (C ``isspace`` without the newline).
_BLANK = "[ \t\v\f\r]"
TRACK_LINE = re.compile(rf"{_BLANK}*([+-]?[0-9]+){_BLANK}+([+-]?[0-9]+){_BLANK}+([+-]?[0-9]+){_BLANK}+([+-]?[0-9]+)")


@dataclass(frozen=True, order=True)
class Track:
    """One line of ``res_track.txt``/``man_track.txt``: label, begin, end, parent."""

    label: int
    begin: int
    end: int
    parent: int


MASK_COMPRESSION = tifffile.COMPRESSION.ADOBE_DEFLATE  # zlib
# What the official tools can decode: their libtiff is built without zstd, webp, jpeg-xl, ...
READABLE_COMPRESSIONS = frozenset({"NONE", "LZW", "PACKBITS", "ADOBE_DEFLATE", "DEFLATE"})


@dataclass(frozen=True)
class TiffLayout:
    """What a TIFF holds, read from its headers only (no pixel decoding).

    ``shape`` is ``(height, width)`` for one page and ``(pages, height, width)`` for a stack,
    because the official tools read a TIFF as a stack of pages whatever extra axes its
    metadata (ImageJ, tifffile's shaped JSON) declares.
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    samples: int
    compression: str

    @property
    def ndim(self) -> int:
        return len(self.shape)


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
    """Input frames ``tNNN.tif`` of a sequence, in time order.

    Numbering gaps, duplicate indices and mixed digit counts are errors: the masks are named
    after the frames, and the official tools expect one contiguous run of equal-width names.
    """
    frames = list_indexed_files(sequence_dir, FRAME_NAME)
    if not frames:
        raise CTCInputError(f"{sequence_dir}: no frames named tNNN.tif")
    widths = {digits_of(path) for _, path in frames}
    if len(widths) > 1:
        raise CTCInputError(f"{sequence_dir}: frame names mix {' and '.join(map(str, sorted(widths)))} digits")
    first = frames[0][0]
    for expected, (index, path) in enumerate(frames, start=first):
        if index < expected:
            raise CTCInputError(f"{sequence_dir}: two files for frame {index} ({path.name} and another)")
        if index > expected:
            missing = f"t{expected:0{digits_of(path)}d}"
            raise CTCInputError(f"{sequence_dir}: frame {missing} is missing (gap before {path.name})")
    return [path for _, path in frames]


def digits_of(path: Path) -> int:
    """Number of digits of the time index in a CTC file name (``t0001.tif`` -> 4)."""
    match = re.search(r"(\d+)(?:_\d+)?\.tiff?$", Path(path).name)
    if not match:
        raise CTCInputError(f"{path}: no time index in file name")
    return len(match.group(1))


def frame_index(path: Path) -> int:
    """Time index of a CTC file name (``t0012.tif`` -> 12)."""
    match = re.search(r"(\d+)(?:_\d+)?\.tiff?$", Path(path).name)
    if not match:
        raise CTCInputError(f"{path}: no time index in file name")
    return int(match.group(1))


@contextmanager
def _quiet_tifffile():
    """tifffile logs its own complaints about corrupt files; ours name the file in one line instead."""
    tifffile_logger = logging.getLogger("tifffile")
    level = tifffile_logger.level
    tifffile_logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        tifffile_logger.setLevel(level)


def _open_tiff(path: Path) -> tifffile.TiffFile:
    path = Path(path)
    if not path.is_file():
        raise CTCInputError(f"{path}: file not found")
    try:
        with _quiet_tifffile():
            return tifffile.TiffFile(path)
    except Exception as error:  # tifffile raises many types for corrupt files
        raise CTCInputError(f"{path}: unreadable TIFF ({error})") from None


def _check_complete(path: Path, page: tifffile.TiffPage, file_size: int) -> None:
    """Pixel data must lie inside the file: a truncated copy is caught from its header alone."""
    end = max((offset + count for offset, count in zip(page.dataoffsets, page.databytecounts)), default=0)
    if end > file_size:
        raise CTCInputError(f"{path}: truncated TIFF (pixel data runs to byte {end}, the file has {file_size})")


def tiff_layout(path: Path) -> TiffLayout:
    """Page count, page size, pixel type and compression of a TIFF, checked to agree over pages and to fit in the file."""
    with _open_tiff(path) as tif, _quiet_tifffile():
        try:
            pages = list(tif.pages)
            if not pages:
                raise CTCInputError(f"{path}: no image in the file (truncated, or not a TIFF)")
            for page in pages:
                _check_complete(path, page, tif.filehandle.size)
            first = pages[0]
            size = (first.imagelength, first.imagewidth)
            for page in pages[1:]:
                if (page.shape, page.dtype) != (first.shape, first.dtype):
                    raise CTCInputError(f"{path}: pages differ in size or pixel type")
            shape = size if len(pages) == 1 else (len(pages), *size)
            return TiffLayout(shape, np.dtype(first.dtype), int(first.samplesperpixel), first.compression.name)
        except CTCInputError:
            raise
        except Exception as error:
            raise CTCInputError(f"{path}: unreadable TIFF ({error})") from None


def read_tiff(path: Path) -> np.ndarray:
    """Pixels of every page, decoded by libtiff (imagecodecs: several times faster than tifffile's
    own decoding), naming the file on failure.

    One page gives (height, width[, samples]), several give (pages, height, width[, samples]).
    """
    import imagecodecs  # here, not above: a GPU machine that trains from a pack has no codecs and reads no TIFF

    path = Path(path)
    if not path.is_file():
        raise CTCInputError(f"{path}: file not found")
    try:
        pixels = imagecodecs.tiff_decode(path.read_bytes(), index=None)
    except Exception as error:  # imagecodecs raises its own error types for corrupt files
        raise CTCInputError(f"{path}: unreadable TIFF ({error})") from None
    while pixels.ndim > 2 and pixels.shape[0] == 1:
        pixels = pixels[0]
    if pixels.ndim > 2 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    return pixels


def read_pages(path: Path) -> Iterator[np.ndarray]:
    """The pages of a TIFF one at a time, so that a long stack is never held whole."""
    with _open_tiff(path) as tif, _quiet_tifffile():
        for index, page in enumerate(tif.pages):
            try:
                image = page.asarray()
            except Exception as error:
                raise CTCInputError(f"{path}: page {index} unreadable ({error})") from None
            yield image


def _require_single_channel(path: Path, layout: TiffLayout) -> None:
    if layout.samples != 1:
        raise CTCInputError(f"{path}: {layout.samples} samples per pixel (RGB?); expected one grayscale channel")


def frame_layout(path: Path) -> TiffLayout:
    """The header of an input frame, checked: one 2D grayscale page of integers or floats."""
    layout = tiff_layout(path)
    _require_single_channel(path, layout)
    if layout.ndim != 2:
        raise CTCInputError(f"{path}: expected a 2D frame, got a stack of {layout.shape[0]} pages")
    if layout.dtype.kind not in "uif":
        raise CTCInputError(f"{path}: unsupported pixel type {layout.dtype}")
    return layout


def read_frame(path: Path) -> np.ndarray:
    """A 2D grayscale input frame (uint8/uint16 in the CTC); RGB or 3D stacks are rejected with the file named.

    Float frames must be finite: one NaN would spread through the smoothing and empty the frame.
    """
    layout = frame_layout(path)
    image = read_tiff(path)
    if layout.dtype.kind == "f":
        bad = int(image.size - np.count_nonzero(np.isfinite(image)))
        if bad:
            raise CTCInputError(f"{path}: {bad} pixels are NaN or infinite; frames must hold finite values")
    return image


def read_labels(path: Path) -> np.ndarray:
    """An integer label image (mask, man_seg, man_track): 2D, or 3D (pages) for 3D data; float is rejected."""
    layout = tiff_layout(path)
    _require_single_channel(path, layout)
    if layout.dtype.kind not in "ui":
        raise CTCInputError(f"{path}: label image must be integer, got {layout.dtype}")
    return read_tiff(path)


def mask_name(index: int, digits: int) -> str:
    return f"mask{index:0{digits}d}.tif"


def write_mask(path: Path, labels: np.ndarray) -> np.ndarray:
    """Write a 2D uint16 label image with zlib compression (the official tools reject zstd); returns
    the image written, whose header :func:`mask_layout` gives without reading the file.

    The file appears under its name only once complete, so an interrupted run never leaves
    a truncated mask that looks valid.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"mask must be 2D, got shape {labels.shape}")
    if labels.dtype.kind not in "uib":
        raise ValueError(f"mask must hold integer labels, got {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() > np.iinfo(np.uint16).max):
        raise ValueError("labels do not fit in uint16")
    path = Path(path)
    partial = path.with_name(path.name + ".part")
    mask = labels.astype(np.uint16)
    tifffile.imwrite(partial, mask, compression=MASK_COMPRESSION, photometric="minisblack", metadata=None)
    os.replace(partial, path)
    return mask


def mask_layout(mask: np.ndarray) -> TiffLayout:
    """The header :func:`write_mask` gives the file of ``mask``, as :func:`tiff_layout` would read it."""
    return TiffLayout(mask.shape, mask.dtype, 1, MASK_COMPRESSION.name)


def write_atomically(path: Path, save: Callable[[Path], object]) -> None:
    """Write through a hidden temporary file renamed into place: never a half-written file, not even
    the temporary one, whatever fails."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        save(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def check_replaceable(folder: Path, overwrite: bool, ours: Callable[[Path], bool], kind: str, replaced: str) -> None:
    """Refuse ``folder`` when it is a file, or a non-empty folder unless ``overwrite`` -- and even then
    one holding anything ``ours`` does not recognise as what a replacement would write (``kind``: what
    the folder must be; ``replaced``: what overwriting replaces): a mistyped destination never loses data."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise CTCInputError(f"{folder}: exists and is not a folder")
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    if not overwrite:
        raise CTCInputError(f"{folder}: folder exists and is not empty (allow overwriting to replace it)", "overwrite")
    foreign = sorted(entry.name for entry in folder.iterdir() if not ours(entry))
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        message = f"{folder}: not {kind} (holds {foreign[0]}{more}); overwriting only replaces {replaced}"
        raise CTCInputError(message, "overwrite")


def file_sha256(path: Path) -> str:
    """Checksum of a file read in blocks (archives and model files can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def parse_tracks(text: str, source: str = "res_track.txt") -> list[Track]:
    """Parse ``L B E P`` lines exactly as tolerantly as the official parser.

    Accepted: leading whitespace, runs of spaces or tabs between the numbers, no final
    newline, CRLF line ends. Rejected, like the official tool: trailing whitespace, blank
    lines anywhere (a blank line at the end too), comments, extra columns, and numbers that
    overflow a 32-bit int.
    """
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    tracks = []
    for number, line in enumerate(lines, start=1):
        if line.endswith("\r"):
            line = line[:-1]
        if not line.strip():
            raise CTCInputError(f"{source}:{number}: blank line (not allowed, not even at the end)")
        match = TRACK_LINE.fullmatch(line)
        if not match:
            raise CTCInputError(
                f"{source}:{number}: expected 4 integers 'L B E P' and nothing else (no trailing spaces), got {line!r}"
            )
        values = [int(field) for field in match.groups()]
        if any(abs(value) > INT32_MAX for value in values):
            raise CTCInputError(f"{source}:{number}: number out of range in {line!r}")
        tracks.append(Track(*values))
    return tracks


def read_tracks(path: Path) -> list[Track]:
    path = Path(path)
    if not path.is_file():
        raise CTCInputError(f"{path}: file not found")
    return parse_tracks(path.read_bytes().decode("latin-1"), str(path))


def format_tracks(tracks: Iterable[Track]) -> str:
    """Exactly ``L B E P\\n`` per track, sorted by label: no blank lines, no trailing spaces."""
    return "".join(f"{t.label} {t.begin} {t.end} {t.parent}\n" for t in sorted(tracks))


def write_tracks(path: Path, tracks: Sequence[Track]) -> None:
    """Write ``res_track.txt`` with LF line ends on every platform."""
    with open(path, "w", newline="\n", encoding="ascii") as file:
        file.write(format_tracks(tracks))
