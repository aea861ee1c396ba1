"""Reading label images the way the official evaluators do, and overlapping them.

Every CTC measure rests on one rule: a result object *matches* a reference object
when it covers strictly more than half of the reference object's pixels. All that
rule needs per frame is the size of every object and the size of every non-empty
intersection, which one ``np.bincount`` over paired labels gives in a single pass.
"""

from __future__ import annotations

from dataclasses import dataclass
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

# Above this many (reference, result) label combinations, count pairs by sorting instead
# of a dense ``bincount`` table, so that images with thousands of labels stay cheap.
DENSE_PAIR_LIMIT = 1 << 22


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


@dataclass(frozen=True)
class Overlap:
    """Object sizes of a reference and a result label image and their non-empty intersections.

    ``pair_gt``/``pair_res`` index ``gt_labels``/``res_labels``; ``pair_size`` is the
    number of pixels the two objects share.
    """

    gt_labels: np.ndarray
    gt_sizes: np.ndarray
    res_labels: np.ndarray
    res_sizes: np.ndarray
    pair_gt: np.ndarray
    pair_res: np.ndarray
    pair_size: np.ndarray

    def matches(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(gt index, res index, shared pixels) of pairs whose result object covers > 50 % of the reference."""
        keep = 2 * self.pair_size > self.gt_sizes[self.pair_gt]
        return self.pair_gt[keep], self.pair_res[keep], self.pair_size[keep]


def _objects(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-zero labels, their pixel counts, and a lookup table label -> index."""
    counts = np.bincount(labels)
    counts[:1] = 0
    present = np.flatnonzero(counts)
    lookup = np.zeros(counts.size, dtype=np.intp)
    lookup[present] = np.arange(present.size)
    return present, counts[present], lookup


def overlap(reference: np.ndarray, result: np.ndarray) -> Overlap:
    """Sizes and pairwise intersections of two label images of the same shape (2D or 3D)."""
    reference = reference.ravel()
    result = result.ravel()
    gt_labels, gt_sizes, gt_lookup = _objects(reference)
    res_labels, res_sizes, res_lookup = _objects(result)
    both = (reference > 0) & (result > 0)
    n_res = max(res_labels.size, 1)
    codes = gt_lookup[reference[both]] * n_res + res_lookup[result[both]]
    if gt_labels.size * n_res <= DENSE_PAIR_LIMIT:
        counts = np.bincount(codes, minlength=gt_labels.size * n_res)
        pair_codes = np.flatnonzero(counts)
        pair_size = counts[pair_codes]
    else:
        pair_codes, pair_size = np.unique(codes, return_counts=True)
    return Overlap(
        gt_labels=gt_labels,
        gt_sizes=gt_sizes,
        res_labels=res_labels,
        res_sizes=res_sizes,
        pair_gt=pair_codes // n_res,
        pair_res=pair_codes % n_res,
        pair_size=pair_size,
    )
