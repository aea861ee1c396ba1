"""Reading label images the way the official evaluators do.

Their overlaps and the matching rule live in :mod:`ctc_submit.overlap`, shared with the tracker.
"""

from __future__ import annotations

from pathlib import Path

import imagecodecs
import numpy as np
import tifffile

from ctc_submit.io import CTCInputError

# The official tools decode TIFFs with a libtiff built without zstd, webp, jpeg-xl, ...
ACCEPTED_COMPRESSIONS = frozenset(
    {
        tifffile.COMPRESSION.NONE,
        tifffile.COMPRESSION.LZW,
        tifffile.COMPRESSION.PACKBITS,
        tifffile.COMPRESSION.ADOBE_DEFLATE,
        tifffile.COMPRESSION.DEFLATE,
    }
)

def _read_bytes(path: Path) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise CTCInputError(f"{path}: file not found")
    return path.read_bytes()


def _decode(path: Path, data: bytes) -> np.ndarray:
    """All pages of a TIFF as one array, singleton axes dropped (libtiff: several times faster than tifffile)."""
    try:
        labels = imagecodecs.tiff_decode(data, index=None)
    except Exception as error:  # imagecodecs raises its own error types for corrupt files
        raise CTCInputError(f"{path}: unreadable TIFF ({error})") from None
    return np.squeeze(labels)


def _compression(path: Path) -> tifffile.COMPRESSION:
    """From the header only; the file is opened by path, so no pixel buffer is tied to tifffile's reference cycles."""
    try:
        with tifffile.TiffFile(path) as tif:
            return tif.pages.first.compression
    except Exception as error:  # tifffile raises many types for corrupt files
        raise CTCInputError(f"{path}: unreadable TIFF ({error})") from None


def read_result_mask(path: Path) -> np.ndarray:
    """A result mask, refused for what the official tools refuse: not uint16, exotic compression."""
    data = _read_bytes(path)
    compression = _compression(path)
    if compression not in ACCEPTED_COMPRESSIONS:
        raise CTCInputError(
            f"{path}: {compression.name} compression is not readable by the official evaluators "
            "(use zlib, LZW or none)"
        )
    labels = _decode(path, data)
    if labels.dtype.kind != "u" or labels.dtype.itemsize != 2:
        raise CTCInputError(f"{path}: masks must be 16-bit unsigned integers (uint16), got {labels.dtype}")
    return labels.astype(np.uint16, copy=False)


def read_reference(path: Path) -> np.ndarray:
    """A ground-truth label image (man_track, man_seg): 8- or 16-bit unsigned integers."""
    labels = _decode(path, _read_bytes(path))
    if labels.dtype.kind != "u" or labels.dtype.itemsize > 2:
        raise CTCInputError(f"{path}: ground-truth labels must be 8- or 16-bit unsigned integers, got {labels.dtype}")
    return labels.astype(labels.dtype.newbyteorder("="), copy=False)


def check_same_shape(reference: np.ndarray, reference_path: Path, result: np.ndarray, result_path: Path) -> None:
    if reference.shape != result.shape:
        raise CTCInputError(
            f"{result_path}: image size {result.shape} differs from the ground truth "
            f"{Path(reference_path).name} {reference.shape}"
        )
