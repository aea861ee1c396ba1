"""Where a sequence's frames come from: a CTC folder of ``tNNN.tif``, a multi-page TIFF stack, or an array.

Labs keep time-lapses as the challenge's folder of frames or as one (T, Y, X) stack, on disk or in
memory. Each form is checked whole before any heavy work (a corrupt last frame must not be found
after minutes of work) and then read one frame at a time; all three give the pipeline the same
frames, so one sequence gives the same result whatever form it came in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Iterator, cast

import numpy as np

from ctc_submit.io import (
    CTCInputError,
    digits_of,
    frame_index,
    frame_layout,
    list_frames,
    read_frame,
    read_pages,
    tiff_layout,
)
from ctc_submit.submission import check_destination, check_room, sequence_folders

ACCEPTED = (
    "a folder of tNNN.tif frames, a multi-page TIFF stack (T, Y, X) or an array (T, Y, X), "
    "one grayscale channel of integers or floats"
)
STACK_SUFFIXES = (".tif", ".tiff")


def _mask_digits(count: int) -> int:
    """Digits of the mask names of a sequence without frame names: 3, as in the challenge, or more."""
    return max(3, len(str(count - 1)))


class FrameSource(ABC):
    """The frames of one sequence, checked: how many, their size, how the masks are named, what must stay untouched."""

    count: int
    shape: tuple[int, int]
    digits: int
    protected: tuple[Path, ...] = ()  # input files and folders no output may touch

    @abstractmethod
    def frame_name(self, index: int) -> str:
        """How messages name frame ``index``."""

    @abstractmethod
    def images(self) -> Iterator[np.ndarray]:
        """The frames in time order, one at a time."""


class FrameFolder(FrameSource):
    """The challenge's layout: ``SEQ/t000.tif``, ``t001.tif``, ..."""

    def __init__(self, folder: Path) -> None:
        self.paths = list_frames(folder)
        if frame_index(self.paths[0]) != 0:
            raise CTCInputError(f"{folder}: frames must be numbered from 0 (first is {self.paths[0].name})")
        self.shape = cast(tuple[int, int], frame_layout(self.paths[0]).shape)  # frame_layout() checks it is 2D
        for path in self.paths:
            layout = frame_layout(path)
            _check_size(path, layout.shape, self.shape)
            if layout.dtype.kind == "f":
                read_frame(path)  # values checked: NaN would empty the frame
        self.count, self.digits = len(self.paths), digits_of(self.paths[0])
        self.protected = tuple(sequence_folders(folder))

    def frame_name(self, index: int) -> str:
        return self.paths[index].name

    def images(self) -> Iterator[np.ndarray]:
        for path in self.paths:
            image = read_frame(path)
            _check_size(path, image.shape, self.shape)
            yield image


class TiffStack(FrameSource):
    """One multi-page TIFF, a page per frame; its ``STEM_GT`` beside it is its ground truth."""

    def __init__(self, path: Path) -> None:
        layout = tiff_layout(path)
        if layout.samples != 1 or layout.dtype.kind not in "uif":
            raise CTCInputError(f"{path}: {layout.samples} channel(s) of {layout.dtype}; expected {ACCEPTED}")
        self.path = path
        self.shape = cast(tuple[int, int], layout.shape[-2:])
        self.count = 1 if layout.ndim == 2 else layout.shape[0]
        self.digits = _mask_digits(self.count)
        self.protected = (path, *(path.with_name(path.stem + suffix) for suffix in ("_GT", "_ST")))
        if layout.dtype.kind == "f":
            for index, image in enumerate(read_pages(path)):
                _check_finite(image, f"{path}: page {index}")

    def frame_name(self, index: int) -> str:
        return f"page {index}"

    def images(self) -> Iterator[np.ndarray]:
        for index, image in enumerate(read_pages(self.path)):
            _check_finite(image, f"{self.path}: page {index}")
            yield image


class ArrayFrames(FrameSource):
    """A (T, Y, X) array already in memory."""

    def __init__(self, array: np.ndarray) -> None:
        if array.ndim != 3 or array.dtype.kind not in "uif" or 0 in array.shape:
            raise CTCInputError(f"an array of shape {array.shape} and type {array.dtype}; expected {ACCEPTED}")
        for index, image in enumerate(array):
            _check_finite(image, f"array: frame {index}")
        self.array = array
        self.count, self.shape = array.shape[0], array.shape[1:]
        self.digits = _mask_digits(self.count)

    def frame_name(self, index: int) -> str:
        return f"frame {index}"

    def images(self) -> Iterator[np.ndarray]:
        yield from self.array


def _check_size(path: Path, size: tuple[int, ...], shape: tuple[int, ...]) -> None:
    if size != shape:
        raise CTCInputError(f"{path}: size {size[1]}x{size[0]} differs from the first frame ({shape[1]}x{shape[0]})")


def _check_finite(image: np.ndarray, where: str) -> None:
    bad = int(image.size - np.count_nonzero(np.isfinite(image))) if image.dtype.kind == "f" else 0
    if bad:
        raise CTCInputError(f"{where}: {bad} pixels are NaN or infinite; frames must hold finite values")


def protected_by(source: Path | str | np.ndarray) -> list[Path]:
    """What no output of ``source`` may touch, known before its frames are checked."""
    if isinstance(source, np.ndarray):
        return []
    path = Path(source)
    if path.is_dir():
        return sequence_folders(path)
    return [path, *(path.with_name(path.stem + suffix) for suffix in ("_GT", "_ST"))]


def open_frames(source: Path | str | np.ndarray) -> FrameSource:
    """The frames of a folder, a TIFF stack or an array, checked; anything else is one line saying what is accepted."""
    if isinstance(source, np.ndarray):
        return ArrayFrames(source)
    path = Path(source)
    if path.is_dir():
        return FrameFolder(path)
    if path.is_file() and path.suffix.lower() in STACK_SUFFIXES:
        return TiffStack(path)
    if path.exists():
        raise CTCInputError(f"{path}: not a folder or a .tif file; expected {ACCEPTED}")
    raise CTCInputError(f"{path}: folder not found")


def check_run(source: Path | str | np.ndarray, output_dir: Path, overwrite: bool) -> FrameSource:
    """Everything a run can be refused for, before any heavy work: the destination (apart from the
    inputs, free unless ``overwrite``), the frames, and room on the disk for the masks."""
    if not isinstance(source, np.ndarray) and not Path(source).exists():
        raise CTCInputError(f"{source}: folder not found")
    check_destination(Path(output_dir), overwrite, protected_by(source))
    frames = open_frames(source)
    check_room(Path(output_dir), frames.count, frames.shape)
    return frames
