"""Signal above a background surface: margins trimmed, cells outside every mask found, nothing changed without background."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctc_submit.tracking.intensity import (
    background_surface,
    frame_signal,
    label_quantiles,
    signal_cells,
    signal_objects,
    significance,
    split_off_cells,
    trim_to_signal,
)


def noisy_frame_with_a_cell(seed: int = 0, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A frame of background 100 with noise of sigma 5 and a bright square cell (rows/cols 20-39)."""
    rng = np.random.default_rng(seed)
    image = 100 + 5 * rng.standard_normal((size, size))
    image[20:40, 20:40] += 60
    return image.astype(np.float32), np.s_[20:40, 20:40]


def test_the_background_surface_follows_bright_rows_and_a_column_ramp_under_sparse_cells():
    rows, columns = np.mgrid[0:120, 0:160]
    background = 100 + 0.2 * columns + np.where(rows < 10, 40.0, 0.0)  # bright top rows, a left-right ramp
    image = background.copy()
    image[50:70, 30:60] += 500  # a cell: a sixth of its rows and columns at most
    surface = background_surface(image)
    error = np.abs(surface - background)
    assert error[:8].max() < 1.0 and error[15:45].max() < 1.0 and error[75:].max() < 1.0
    assert error[50:70].max() <= 0.2 * 30 + 1e-9  # the cell's rows: off by at most the ramp's rise under her


def test_significance_is_in_noise_sigmas_over_the_outside_pixels_and_none_without_them():
    image, cell = noisy_frame_with_a_cell(size=200)  # the cell in a tenth of the rows and columns
    outside = np.ones(image.shape, dtype=bool)
    outside[cell] = False
    sigmas_above = significance(image, 0.0, outside)
    assert np.median(sigmas_above[cell]) == pytest.approx(12, rel=0.1)  # 60 above noise 5
    assert np.median(np.abs(sigmas_above[outside])) * 1.4826 == pytest.approx(1, rel=0.05)
    assert significance(image, 0.0, np.zeros(image.shape, dtype=bool)) is None
    assert significance(np.full((8, 8), 7.0), 0.0, np.ones((8, 8), dtype=bool)) is None  # no noise


def test_a_mask_with_a_margin_of_background_is_trimmed_to_the_cell():
    image, cell = noisy_frame_with_a_cell()
    labels = np.zeros(image.shape, dtype=np.int32)
    labels[14:46, 14:46] = 3  # the cell and a six-pixel margin of background
    trimmed = trim_to_signal(labels.copy(), significance(image, 1.0, labels == 0), sigmas=1.0)
    assert (trimmed[cell] == 3).mean() > 0.95  # the cell stays
    margin = labels == 3
    margin[18:42, 18:42] = False  # two pixels off the cell: beyond its smoothed edge
    assert (trimmed[margin] == 0).mean() > 0.75  # noise above one sigma keeps the rest


def test_a_mask_over_a_band_of_bright_background_loses_it_but_keeps_the_cell_inside():
    rng = np.random.default_rng(2)
    image = 100 + 5 * rng.standard_normal((96, 96))
    image[:12] += 15  # brighter top rows: three noise sigmas
    image[2:30, 40:48] += 60  # a cell reaching into them
    labels = np.zeros(image.shape, dtype=np.int32)
    labels[:30, :90] = 4  # one mask over the band and the cell
    trimmed = trim_to_signal(labels.copy(), significance(image.astype(np.float32), 1.0, labels == 0), 2.0)
    assert (trimmed[4:28, 41:47] == 4).mean() > 0.95
    band = np.zeros(image.shape, dtype=bool)
    band[:12, :30] = True
    assert (trimmed[band] == 0).mean() > 0.9


def test_a_mask_on_background_alone_loses_its_pixels_and_a_frame_without_background_is_left_as_is():
    image, _ = noisy_frame_with_a_cell()
    labels = np.zeros(image.shape, dtype=np.int32)
    labels[50:60, 2:12] = 5  # nothing but background under it
    assert (trim_to_signal(labels.copy(), significance(image, 1.0, labels == 0), 1.0) == 5).sum() < 0.3 * 100
    everything = np.ones(image.shape, dtype=np.int32)
    kept = trim_to_signal(everything.copy(), significance(image, 1.0, everything == 0), 1.0)
    np.testing.assert_array_equal(kept, everything)


def test_signal_objects_are_the_large_regions_of_signal_that_touch_no_mask():
    image, cell = noisy_frame_with_a_cell()
    image[5:15, 45:60] += 60  # a second cell, which no mask covers
    image[50:53, 50:53] += 60  # a speck
    image[45:60, 5:20] += 60  # a cell beside a mask that reaches her
    labels = np.zeros(image.shape, dtype=np.int32)
    labels[cell] = 1
    labels[45:60, 20:25] = 2
    sigmas_above = significance(image.astype(np.float32), 1.0, labels == 0)
    found = signal_objects(labels, sigmas_above, 3.0, min_area=50)
    assert found.max() == 1 and (found[6:14, 46:59] == 1).all()
    assert not found[labels > 0].any() and not found[50:53, 50:53].any() and not found[45:60, 5:20].any()
    assert not signal_objects(labels, sigmas_above, 0.0, 50).any() and not signal_objects(labels, None, 3.0, 50).any()


def test_a_cell_under_the_margin_of_a_mask_that_trimming_takes_away_is_found_on_the_grid():
    rng = np.random.default_rng(3)
    image = (100 + 5 * rng.standard_normal((64, 64))).astype(np.float32)
    image[4:22, 4:22] += 60  # the cell the mask is for (its largest piece)
    image[4:20, 36:52] += 60  # a second cell under the same (untrimmed) mask
    grid = np.zeros((32, 32), np.int32)
    grid[0:12, 0:28] = 1  # both cells and the background between them
    signal = frame_signal(grid, image, 1.0, 2.0)
    assert (signal.kept[4:22, 4:22] == 1).mean() > 0.9 and not signal.kept[:, 30:].any()
    found, regions = signal_cells(signal, grid.shape, 3.0, min_area=50)
    assert set(np.unique(found)) == {0, 1} and (found[3:9, 19:25] == 1).all() and not found[:, :12].any()
    assert set(np.unique(regions)) == {0, 1} and (regions[6:18, 38:50] == 1).all() and not regions[:, :30].any()
    untrimmed = frame_signal(grid, image, 1.0, 0.0)
    assert not signal_cells(untrimmed, grid.shape, 3.0, min_area=50)[0].any()  # the mask touches her


@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.sampled_from([0.0, 0.5, 0.9, 1.0]))
def test_label_quantiles_are_numpy_s_lower_percentile_of_each_label_s_pixels(seed, count, quantile):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, count, size=(9, 11))
    values = rng.standard_normal((9, 11))
    levels = label_quantiles(labels, values, quantile, count + 2)
    assert levels.shape == (count + 2,) and levels[0] == 0 and (levels[count:] == 0).all()
    for label in range(1, count):
        pixels = values[labels == label]
        expected = np.percentile(pixels, 100 * quantile, method="lower") if pixels.size else 0.0
        assert levels[label] == expected


def test_the_cells_trimming_splits_off_a_mask_beside_its_largest_piece_are_cells_of_their_own():
    """One mask over three bright squares on background: trimmed to the signal it falls into pieces of
    400, 256 and 36 pixels. The largest stays the object; the 256-pixel one is a cell of its own
    (min_area 100), the 36-pixel one is not."""
    rng = np.random.default_rng(5)
    image = (100 + 5 * rng.standard_normal((96, 96))).astype(np.float32)
    image[10:30, 10:30] += 80
    image[10:26, 50:66] += 80
    image[60:66, 10:16] += 80
    grid = np.zeros((48, 48), np.int32)
    grid[3:35, 3:35] = 1
    signal = frame_signal(grid, image, 1.0, 2.0)
    assert (signal.kept[12:28, 12:28] == 1).all() and not signal.kept[:, 40:].any()
    cells = split_off_cells(signal, min_area=100)
    assert set(np.unique(cells)) == {0, 1} and (cells[12:24, 52:64] == 1).all() and not cells[55:70, 5:20].any()
    found, regions = signal_cells(signal, grid.shape, 3.0, min_area=100)
    assert (regions == cells).all() and (found[6:12, 26:32] == 1).all()
