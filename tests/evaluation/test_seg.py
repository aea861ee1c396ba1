"""SEG: Jaccard of matched objects, zero for unmatched ones, mean over all objects of all files."""

from __future__ import annotations

import numpy as np
import pytest

from ctc_submit.evaluation.seg import (
    SegFrame,
    SegReference,
    jaccard_per_object,
    list_seg_references,
    seg_frame,
    seg_log,
    seg_measure,
)
from ctc_submit.io import CTCInputError
from ctc_submit.overlap import overlap


def test_jaccard_of_matched_objects_and_zero_otherwise():
    reference = np.array([[1, 1, 1, 1, 2, 2, 3, 3]], np.uint16)
    result = np.array([[5, 5, 5, 0, 6, 6, 6, 0]], np.uint16)
    # 1: 3 of 4 covered by 5 -> J = 3/4; 2: covered by 6 -> J = 2/3; 3: half covered -> 0
    np.testing.assert_allclose(jaccard_per_object(overlap(reference, result)), [0.75, 2 / 3, 0.0])


def test_one_result_object_can_serve_one_reference_object_only_once_each():
    reference = np.array([[1, 1, 1, 2, 2, 2]], np.uint16)
    merged = np.array([[4, 4, 4, 4, 4, 4]], np.uint16)
    # a merge covers both references completely: each gets J = 3/6
    np.testing.assert_allclose(jaccard_per_object(overlap(reference, merged)), [0.5, 0.5])


def test_mean_is_over_objects_not_over_files():
    frames = [
        SegFrame(0, 0, np.array([1]), np.array([1.0])),
        SegFrame(1, 0, np.array([1, 2, 3]), np.array([0.0, 0.0, 0.0])),
    ]
    assert seg_measure(frames) == pytest.approx(0.25)
    with pytest.raises(CTCInputError, match="no objects"):
        seg_measure([SegFrame(0, 0, np.array([], int), np.array([]))])


def test_whole_frames_and_slices_are_listed_in_time_then_slice_order(tmp_path):
    for name in ["man_seg_001_007.tif", "man_seg002.tif", "man_seg_001_003.tif", "man_seg000.tif", "other.tif"]:
        (tmp_path / name).touch()
    listed = [(ref.t, ref.z, ref.path.name) for ref in list_seg_references(tmp_path)]
    assert listed == [
        (0, None, "man_seg000.tif"),
        (1, 3, "man_seg_001_003.tif"),
        (1, 7, "man_seg_001_007.tif"),
        (2, None, "man_seg002.tif"),
    ]


def test_log_lists_every_object_like_the_official_one(tmp_path):
    reference = np.array([[1, 1, 2, 2, 2, 2, 2, 2, 2, 2]], np.uint16)
    result = np.array([[0, 0, 3, 3, 3, 3, 3, 3, 3, 0]], np.uint16)
    frames = [seg_frame(SegReference(4, 2, tmp_path / "man_seg_004_002.tif"), overlap(reference, result))]
    assert seg_log(frames, seg_measure(frames)) == (
        "----------T=4 Z=2----------\n"
        "GT_label=1 J=0\n"
        "GT_label=2 J=0.875\n"
        "========================================================\n"
        "SEG measure: 0.437500\n"
    )
