"""Overlaps of two label images: object sizes and every non-empty intersection, in one pass.

One routine for every place that compares labellings: the evaluation's matching rule (a result
object matches a reference object when it covers strictly more than half of it), the IoU merge of
frame pairs and the lineage's parent search. One ``np.bincount`` over paired labels gives all
intersections; pairs come sorted by (reference label, result label).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Above this many (reference, result) label combinations, count pairs by sorting instead
# of a dense ``bincount`` table, so that images with thousands of labels stay cheap.
DENSE_PAIR_LIMIT = 1 << 22


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

    def ious(self) -> np.ndarray:
        """Intersection over union of every overlapping pair, in pair order."""
        shared = self.pair_size
        return shared / (self.gt_sizes[self.pair_gt] + self.res_sizes[self.pair_res] - shared)

    def labelled_ious(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(reference label, result label, IoU) of every overlapping pair."""
        return self.gt_labels[self.pair_gt], self.res_labels[self.pair_res], self.ious()

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
    """Sizes and pairwise intersections of two label images (or masks) of the same shape (2D or 3D)."""
    reference, result = (np.asarray(image).ravel() for image in (reference, result))
    reference, result = (image.view(np.uint8) if image.dtype == bool else image for image in (reference, result))
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
