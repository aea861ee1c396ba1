"""Chaining clustered frame pairs into one label stack by IoU on their shared frame.

Pair (t-1, t) and pair (t, t+1) both label frame t; matching those two labellings carries the
running IDs forward to frame t+1. Only the last merged frame is kept, so memory does not grow
with the sequence.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from ctc_submit.overlap import overlap
from ctc_submit.presets import Preset


def match_labels(reference: np.ndarray, labels: np.ndarray, min_iou: float = Preset.merge_min_iou) -> dict[int, int]:
    """Greedy one-to-one matching, highest IoU first, stopping below ``min_iou``: {label: reference label}."""
    a, b, ious = overlap(reference, labels).labelled_ious()
    matches: dict[int, int] = {}
    used: set[int] = set()
    for index in np.argsort(-ious, kind="stable"):
        if ious[index] < min_iou:
            break
        if b[index] in matches or a[index] in used:
            continue
        matches[int(b[index])] = int(a[index])
        used.add(int(a[index]))
    return matches


def merge_pairs(
    pairs: Iterable[np.ndarray], min_iou: float = Preset.merge_min_iou, lookahead: list[np.ndarray] | None = None
) -> Iterator[np.ndarray]:
    """Running labels, one (H, W) frame at a time, from label stacks of consecutive frame pairs.

    The first stack's frames are all yielded (a one-frame stack covers a one-frame sequence); each
    later stack must be a pair whose first frame is the last frame yielded, and yields its second.
    Labels of a pair matched on the shared frame keep their running ID; the others get new IDs.

    ``lookahead``, when given, receives each frame as the next pair clusters it, in the running
    labels of that pair's second frame (0 where a cluster does not reach it; the first stack's
    frames and the last frame are their own): pair (t, t+1) sees frame t beside frame t+1, and so splits a cell that has just divided
    a frame before pair (t-1, t) does.
    """
    previous: np.ndarray | None = None
    next_id = 1
    for pair in pairs:
        pair = np.asarray(pair)
        lookup = np.zeros(int(pair.max(initial=0)) + 1, dtype=np.int32)
        if previous is None:
            frames = list(pair)
            matches: dict[int, int] = {}
        else:
            if pair.shape[0] != 2:
                raise ValueError(f"expected a frame pair after the first stack, got {pair.shape[0]} frames")
            frames = [pair[1]]
            matches = match_labels(previous, pair[0], min_iou)
        for label in np.unique(np.concatenate([frame.ravel() for frame in frames])):
            if label == 0:
                continue
            if label in matches:
                lookup[label] = matches[label]
            else:
                lookup[label] = next_id
                next_id += 1
        if lookahead is not None:
            lookahead.extend(lookup[frame] for frame in pair[:-1])
        for frame in frames:
            previous = lookup[frame]
            yield previous
    if lookahead is not None and previous is not None:
        lookahead.append(previous)
