"""Label-aware upsampling: same result as whole-frame interpolation, no new labels, shapes kept."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage
from synthetic import resize_nearest

from ctc_submit.io import read_labels
from ctc_submit.overlap import overlap
from ctc_submit.tracking import upsample
from ctc_submit.tracking.upsample import largest_pieces, upsample_labels, without_slivers


def whole_frame_reference(labels: np.ndarray, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Every label smoothed and interpolated over the whole frame; argmax, background first."""
    rows = np.clip((np.arange(shape[0]) + 0.5) * labels.shape[0] / shape[0] - 0.5, 0, labels.shape[0] - 1)
    cols = np.clip((np.arange(shape[1]) + 0.5) * labels.shape[1] / shape[1] - 0.5, 0, labels.shape[1] - 1)
    grid = np.meshgrid(rows, cols, indexing="ij")
    best = np.full(shape, -1.0)
    result = np.zeros(shape, dtype=labels.dtype)
    for label in [0, *np.unique(labels[labels > 0])]:
        indicator = ndimage.gaussian_filter((labels == label).astype(np.float32), sigma, mode="nearest")
        score = ndimage.map_coordinates(indicator, grid, order=1, mode="nearest")
        result[score > best] = label
        best = np.maximum(best, score)
    return result


@settings(max_examples=40, deadline=None)
@given(
    labels=arrays(np.int32, st.tuples(st.integers(2, 12), st.integers(2, 12)), elements=st.integers(0, 4)),
    factors=st.tuples(st.floats(0.5, 4.0), st.floats(0.5, 4.0)),
    sigma=st.sampled_from([0.0, 0.75]),
)
def test_per_label_boxes_give_the_whole_frame_result(labels, factors, sigma):
    shape = tuple(max(1, round(size * factor)) for size, factor in zip(labels.shape, factors))
    result = upsample_labels(labels, shape, sigma)
    assert result.shape == shape and result.dtype == labels.dtype
    assert set(np.unique(result)) <= set(np.unique(labels)) | {0}  # no new labels; a sliver becomes background
    np.testing.assert_array_equal(result, without_slivers(whole_frame_reference(labels, shape, sigma), labels))


def test_an_object_that_keeps_less_than_its_share_of_area_is_dropped_as_a_sliver(monkeypatch):
    labels = np.zeros((16, 16), dtype=np.int32)
    labels[2:8, 2:8] = 1  # a blob keeps most of its area under strong smoothing
    labels[11:14, 2:14] = 2  # a band three pixels thick keeps about a quarter of it
    kept = upsample_labels(labels, (64, 64), sigma=2.0)
    assert set(np.unique(kept)) == {0, 1}
    monkeypatch.setattr(upsample, "MIN_KEPT_SHARE", 0.0)
    assert 0 < np.count_nonzero(upsample_labels(labels, (64, 64), sigma=2.0) == 2) < 0.5 * 36 * 16


def test_without_smoothing_an_exact_doubling_is_nearest_neighbour():
    labels = np.random.default_rng(0).integers(0, 5, size=(16, 16)).astype(np.int32)
    np.testing.assert_array_equal(upsample_labels(labels, (32, 32), sigma=0), labels.repeat(2, 0).repeat(2, 1))


def test_real_cells_survive_the_round_trip_through_the_network_grid(ctc_data):
    truth = read_labels(ctc_data / "DIC-C2DH-HeLa" / "01_GT" / "SEG" / "man_seg002.tif").astype(np.int32)
    result = upsample_labels(resize_nearest(truth), truth.shape)
    cells, found, ious = overlap(truth, result).labelled_ious()
    same = cells == found
    assert set(cells[same].tolist()) == set(np.unique(truth[truth > 0]).tolist())
    assert ious[same].min() > 0.9


def test_largest_pieces_keeps_one_region_per_label():
    labels = np.zeros((8, 8), dtype=np.uint16)
    labels[0:3, 0:3] = 1  # 9 pixels
    labels[6:8, 6:8] = 1  # 4 pixels, a stray piece of the same label
    labels[4, 0:4] = 2  # one piece only
    labels[3, 3] = 1  # touches the large piece diagonally: one region for the validator too
    cleaned = largest_pieces(labels)
    assert cleaned[3, 3] == 1
    assert (cleaned[0:3, 0:3] == 1).all()
    assert (cleaned[6:8, 6:8] == 0).all()
    assert (cleaned == 2).sum() == 4
    assert labels[7, 7] == 1, "the input is left as it was"
