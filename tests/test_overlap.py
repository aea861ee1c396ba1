"""Overlap counting against a brute-force count; the matching rule and IoU built on it."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ctc_submit import overlap as overlap_module
from ctc_submit.overlap import overlap

label_images = arrays(np.uint16, (6, 7), elements=st.integers(0, 5))


def brute_force(reference: np.ndarray, result: np.ndarray) -> dict[tuple[int, int], int]:
    return {
        (g, r): int(np.sum((reference == g) & (result == r)))
        for g in np.unique(reference[reference > 0]).tolist()
        for r in np.unique(result[result > 0]).tolist()
        if np.any((reference == g) & (result == r))
    }


def as_dict(pairs) -> dict[tuple[int, int], int]:
    return {
        (int(pairs.gt_labels[g]), int(pairs.res_labels[r])): int(n)
        for g, r, n in zip(pairs.pair_gt, pairs.pair_res, pairs.pair_size)
    }


@settings(max_examples=60, deadline=None)
@given(label_images, label_images, st.booleans())
def test_overlap_counts_every_intersection(reference, result, sparse):
    limit = 0 if sparse else overlap_module.DENSE_PAIR_LIMIT
    original, overlap_module.DENSE_PAIR_LIMIT = overlap_module.DENSE_PAIR_LIMIT, limit
    try:
        pairs = overlap(reference, result)
    finally:
        overlap_module.DENSE_PAIR_LIMIT = original
    assert as_dict(pairs) == brute_force(reference, result)
    assert pairs.gt_labels.tolist() == np.unique(reference[reference > 0]).tolist()
    assert pairs.gt_sizes.tolist() == [int(np.sum(reference == g)) for g in pairs.gt_labels]
    assert pairs.res_sizes.tolist() == [int(np.sum(result == r)) for r in pairs.res_labels]


@settings(max_examples=60, deadline=None)
@given(label_images, label_images)
def test_match_means_strictly_more_than_half_of_the_reference(reference, result):
    pairs = overlap(reference, result)
    gt, res, shared = pairs.matches()
    expected = {(g, r) for (g, r), n in brute_force(reference, result).items() if 2 * n > np.sum(reference == g)}
    assert {(int(pairs.gt_labels[g]), int(pairs.res_labels[r])) for g, r in zip(gt, res)} == expected
    assert len(set(gt.tolist())) == len(gt)  # a reference object matches at most one result object
    assert all(2 * n > pairs.gt_sizes[g] for g, n in zip(gt, shared))


def test_exactly_half_is_no_match():
    reference = np.array([[1, 1, 1, 1]], np.uint16)
    assert overlap(reference, np.array([[7, 7, 0, 0]], np.uint16)).matches()[0].size == 0
    assert overlap(reference, np.array([[7, 7, 7, 0]], np.uint16)).matches()[0].size == 1


@settings(max_examples=60, deadline=None)
@given(label_images, label_images)
def test_ious_are_intersection_over_union_of_each_pair(reference, result):
    pairs = overlap(reference, result)
    for g, r, iou in zip(pairs.pair_gt, pairs.pair_res, pairs.ious()):
        first, second = reference == pairs.gt_labels[g], result == pairs.res_labels[r]
        assert iou == np.sum(first & second) / np.sum(first | second)
