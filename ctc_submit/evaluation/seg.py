"""SEG: mean Jaccard index of the reference objects with the result objects that match them.

A reference object without a result object covering more than half of it scores 0,
so missed cells and merged cells both pull the mean down. Reference files are whole
frames (``man_segT.tif``) or, for 3D data, single slices (``man_seg_T_Z.tif``), which
are compared with slice Z of ``maskT.tif``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ctc_submit.io import CTCInputError
from ctc_submit.overlap import Overlap

SEG_FRAME = re.compile(r"^man_seg(\d+)\.tif$")
SEG_SLICE = re.compile(r"^man_seg_(\d+)_(\d+)\.tif$")


@dataclass(frozen=True, order=True)
class SegReference:
    """One reference segmentation file: time ``t``, slice ``z`` (None for a whole frame)."""

    t: int
    z: int | None
    path: Path


def list_seg_references(seg_dir: Path) -> list[SegReference]:
    """The ``man_seg`` files of a ``SEQ_GT/SEG`` folder, ordered by time then slice."""
    seg_dir = Path(seg_dir)
    if not seg_dir.is_dir():
        raise CTCInputError(f"{seg_dir}: folder not found")
    found = []
    for path in seg_dir.iterdir():
        if match := SEG_FRAME.match(path.name):
            found.append(SegReference(int(match.group(1)), None, path))
        elif match := SEG_SLICE.match(path.name):
            found.append(SegReference(int(match.group(1)), int(match.group(2)), path))
    return sorted(found, key=lambda ref: (ref.t, -1 if ref.z is None else ref.z))


def jaccard_per_object(pairs: Overlap) -> np.ndarray:
    """Jaccard index of every reference object with its matching result object, 0 without one."""
    gt, res, shared = pairs.matches()
    jaccard = np.zeros(pairs.gt_labels.size)
    jaccard[gt] = shared / (pairs.gt_sizes[gt] + pairs.res_sizes[res] - shared)
    return jaccard


@dataclass(frozen=True)
class SegFrame:
    """Per-object Jaccard indices of one reference file, in label order."""

    t: int
    z: int
    labels: np.ndarray
    jaccard: np.ndarray


def seg_frame(reference: SegReference, pairs: Overlap) -> SegFrame:
    return SegFrame(reference.t, reference.z or 0, pairs.gt_labels, jaccard_per_object(pairs))


def seg_measure(frames: list[SegFrame]) -> float:
    """Mean over all reference objects of all files (not a mean of per-frame means)."""
    count = sum(frame.labels.size for frame in frames)
    if count == 0:
        raise CTCInputError("SEG: the reference segmentations contain no objects")
    return float(sum(frame.jaccard.sum() for frame in frames) / count)


def seg_log(frames: list[SegFrame], value: float) -> str:
    """The official ``SEG_log.txt``: per file, the Jaccard index of every reference object.

    Numbers are printed as by the official Linux build (C ``%g``/``%f``, ties to even);
    the Windows build rounds ties such as J = 0.6015625 up instead.
    """
    lines = []
    for frame in frames:
        lines.append(f"----------T={frame.t} Z={frame.z}----------")
        lines.extend(f"GT_label={label} J={j:g}" for label, j in zip(frame.labels.tolist(), frame.jaccard.tolist()))
    lines.append("=" * 56)
    lines.append(f"SEG measure: {value:.6f}")
    return "\n".join(lines) + "\n"
