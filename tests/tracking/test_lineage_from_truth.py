"""The tracking stages alone, fed the ground truth's own masks with their IDs scrambled per frame.

Segmentation is then perfect, so what the lineage gets wrong is the lineage logic's own doing:
merge (IoU on consecutive frames) and lineage (divisions, continuations, flickers) must rebuild
the reference lineage, and create no division where the reference has none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from ctc_submit.evaluation import evaluate
from ctc_submit.io import read_labels
from ctc_submit.presets import get_preset
from ctc_submit.submission import SubmissionWriter
from ctc_submit.tracking.lineage import build_lineage, count_divisions, rules_of
from ctc_submit.tracking.merge import match_labels, merge_pairs


def scrambled(frames: list[np.ndarray], seed: int = 0) -> list[np.ndarray]:
    """Each frame's labels permuted at random: no identity survives from one frame to the next."""
    generator = np.random.default_rng(seed)
    result = []
    for frame in frames:
        lookup = np.zeros(int(frame.max()) + 1, dtype=np.int32)
        lookup[1:] = generator.permutation(np.arange(1, len(lookup)))
        result.append(lookup[frame])
    return result


def frame_pairs(frames: list[np.ndarray]):
    """What clustering hands to the merge: pairs (t, t+1) labelled consistently within the pair,
    here by matching t+1 onto t by IoU (unmatched objects of t+1 get labels of their own)."""
    for first, second in zip(frames, frames[1:]):
        matches = match_labels(first, second)
        offset = int(first.max()) + 1
        lookup = np.arange(offset, offset + int(second.max()) + 1, dtype=np.int32)
        lookup[0] = 0
        for label, reference in matches.items():
            lookup[label] = reference
        yield np.stack([first, lookup[second]])


def rebuild(frames: list[np.ndarray], dataset: str, destination: Path) -> list:
    lookahead: list[np.ndarray] = []
    merged = np.stack(list(merge_pairs(frame_pairs(scrambled(frames)), lookahead=lookahead)))
    stack, tracks = build_lineage(merged, rules_of(get_preset(dataset)), lookahead=np.stack(lookahead))
    with SubmissionWriter(destination, digits=3) as writer:
        for index, labels in enumerate(stack):
            writer.write(index, labels.astype(np.uint16))
        writer.commit(tracks)
    return tracks


def read_all(folder: Path, prefix: str, count: int) -> list[np.ndarray]:
    return [read_labels(folder / f"{prefix}{t:03d}.tif") for t in range(count)]


@pytest.mark.slow
@pytest.mark.parametrize(
    "dataset, masks, frames",
    [
        ("DIC-C2DH-HeLa", "01_ST/SEG/man_seg", 84),
        ("Fluo-N2DH-SIM+", "01_GT/SEG/man_seg", 65),
    ],
)
def test_the_ground_truth_lineage_is_rebuilt_from_its_scrambled_masks(ctc_data, tmp_path, dataset, masks, frames):
    folder = ctc_data / dataset
    masks_folder, prefix = (folder / masks).parent, Path(masks).name
    rebuild(read_all(masks_folder, prefix, frames), dataset, tmp_path / "01_RES")
    scores = evaluate(folder, "01", tmp_path / "01_RES", ["DIV_F1(0)", "DIV_PRECISION(0)", "DIV_RECALL(0)", "TRA"])
    assert scores["DIV_F1(0)"] >= 0.9, scores


@pytest.mark.slow
def test_no_division_is_created_where_the_reference_has_none(ctc_data, tmp_path):
    """MSC's SEG covers 18 of 48 frames; its TRA markers, dilated to cell size, cover all."""
    folder = ctc_data / "Fluo-C2DL-MSC" / "01_GT" / "TRA"
    markers = read_all(folder, "man_track", 48)
    grown = [ndimage.grey_dilation(frame, size=(15, 15)) * (frame.max() > 0) for frame in markers]
    tracks = rebuild(grown, "Fluo-C2DL-MSC", tmp_path / "01_RES")
    assert count_divisions(tracks) == 0 and tracks
