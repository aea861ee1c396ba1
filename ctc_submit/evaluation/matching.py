"""Reading label images the way the official evaluators do: what they refuse is refused here.

The pixels come from the one TIFF reader of :mod:`ctc_submit.io`; the overlaps and the matching
rule live in :mod:`ctc_submit.overlap`, shared with the tracker.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ctc_submit.io import READABLE_COMPRESSIONS, CTCInputError, read_tiff, tiff_layout


def read_result_mask(path: Path) -> np.ndarray:
    """A result mask, refused for what the official tools refuse: not uint16, exotic compression."""
    compression = tiff_layout(path).compression
    if compression not in READABLE_COMPRESSIONS:
        raise CTCInputError(
            f"{path}: {compression} compression is not readable by the official evaluators (use zlib, LZW or none)"
        )
    labels = read_tiff(path)
    if labels.dtype.kind != "u" or labels.dtype.itemsize != 2:
        raise CTCInputError(f"{path}: masks must be 16-bit unsigned integers (uint16), got {labels.dtype}")
    return labels.astype(np.uint16, copy=False)


def read_reference(path: Path) -> np.ndarray:
    """A ground-truth label image (man_track, man_seg): 8- or 16-bit unsigned integers."""
    labels = read_tiff(path)
    if labels.dtype.kind != "u" or labels.dtype.itemsize > 2:
        raise CTCInputError(f"{path}: ground-truth labels must be 8- or 16-bit unsigned integers, got {labels.dtype}")
    return labels.astype(labels.dtype.newbyteorder("="), copy=False)


def check_same_shape(reference: np.ndarray, reference_path: Path, result: np.ndarray, result_path: Path) -> None:
    if reference.shape != result.shape:
        raise CTCInputError(
            f"{result_path}: image size {result.shape} differs from the ground truth "
            f"{Path(reference_path).name} {reference.shape}"
        )
