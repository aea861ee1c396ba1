"""Overlap counting against a brute-force count, and the mask rules of the official readers."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ctc_submit.evaluation import matching
from ctc_submit.evaluation.matching import overlap, read_reference, read_result_mask
from ctc_submit.io import CTCInputError

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
    limit = 0 if sparse else matching.DENSE_PAIR_LIMIT
    original, matching.DENSE_PAIR_LIMIT = matching.DENSE_PAIR_LIMIT, limit
    try:
        pairs = overlap(reference, result)
    finally:
        matching.DENSE_PAIR_LIMIT = original
    assert as_dict(pairs) == brute_force(reference, result)
    assert pairs.gt_labels.tolist() == np.unique(reference[reference > 0]).tolist()
    assert pairs.gt_sizes.tolist() == [int(np.sum(reference == g)) for g in pairs.gt_labels]
    assert pairs.res_sizes.tolist() == [int(np.sum(result == r)) for r in pairs.res_labels]


@settings(max_examples=60, deadline=None)
@given(label_images, label_images)
def test_match_means_strictly_more_than_half_of_the_reference(reference, result):
    pairs = overlap(reference, result)
    gt, res, shared = pairs.matches()
    expected = {
        (g, r) for (g, r), n in brute_force(reference, result).items() if 2 * n > np.sum(reference == g)
    }
    assert {(int(pairs.gt_labels[g]), int(pairs.res_labels[r])) for g, r in zip(gt, res)} == expected
    assert len(set(gt.tolist())) == len(gt)  # a reference object matches at most one result object
    assert all(2 * n > pairs.gt_sizes[g] for g, n in zip(gt, shared))


def test_exactly_half_is_no_match():
    reference = np.array([[1, 1, 1, 1]], np.uint16)
    assert overlap(reference, np.array([[7, 7, 0, 0]], np.uint16)).matches()[0].size == 0
    assert overlap(reference, np.array([[7, 7, 7, 0]], np.uint16)).matches()[0].size == 1


def write(path, data, **kwargs):
    tifffile.imwrite(path, data, **kwargs)
    return path


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.uint32, np.float32])
def test_masks_must_be_uint16(tmp_path, dtype):
    path = write(tmp_path / "mask000.tif", np.ones((4, 4), dtype))
    with pytest.raises(CTCInputError, match="mask000.tif: masks must be 16-bit unsigned"):
        read_result_mask(path)


def test_zstd_masks_are_refused(tmp_path):
    path = write(tmp_path / "mask000.tif", np.ones((4, 4), np.uint16), compression="zstd")
    with pytest.raises(CTCInputError, match="ZSTD compression"):
        read_result_mask(path)


@pytest.mark.parametrize("options", [{}, {"compression": "zlib"}, {"compression": "lzw"}, {"byteorder": ">"}])
def test_readable_masks_keep_their_labels(tmp_path, options):
    labels = np.arange(12, dtype=np.uint16).reshape(1, 3, 4) * 1000
    path = write(tmp_path / "mask000.tif", labels, **options)
    mask = read_result_mask(path)
    assert mask.dtype == np.uint16 and mask.dtype.isnative
    np.testing.assert_array_equal(mask, labels[0])


def test_missing_and_corrupt_files_name_the_file(tmp_path):
    with pytest.raises(CTCInputError, match="mask001.tif: file not found"):
        read_result_mask(tmp_path / "mask001.tif")
    (tmp_path / "mask002.tif").write_bytes(b"not a tiff")
    with pytest.raises(CTCInputError, match="mask002.tif: unreadable TIFF"):
        read_result_mask(tmp_path / "mask002.tif")


def test_reference_must_hold_small_unsigned_labels(tmp_path):
    np.testing.assert_array_equal(read_reference(write(tmp_path / "a.tif", np.eye(3, dtype=np.uint8))), np.eye(3))
    with pytest.raises(CTCInputError, match="b.tif: ground-truth labels"):
        read_reference(write(tmp_path / "b.tif", np.eye(3, dtype=np.float32)))
