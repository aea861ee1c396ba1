"""Masks trimmed to the signal: a margin of background goes, the cell stays, nothing changes without background."""

from __future__ import annotations

import numpy as np
import pytest

from ctc_submit.tracking.intensity import background_level, trim_to_signal


def noisy_frame_with_a_cell(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 64x64 frame of background 100 with noise of sigma 5 and a bright square cell (rows/cols 20-39)."""
    rng = np.random.default_rng(seed)
    image = 100 + 5 * rng.standard_normal((64, 64))
    image[20:40, 20:40] += 60
    return image.astype(np.float32), np.s_[20:40, 20:40]


def test_the_background_level_and_noise_are_estimated_robustly_outside_the_masks():
    rng = np.random.default_rng(1)
    values = 100 + 5 * rng.standard_normal((200, 200))
    values[:10] = 10_000  # a bright object the outside mask leaves out
    outside = np.ones(values.shape, dtype=bool)
    outside[:10] = False
    level, noise = background_level(values, outside)
    assert level == pytest.approx(100, abs=0.5) and noise == pytest.approx(5, rel=0.05)


def test_a_mask_with_a_margin_of_background_is_trimmed_to_the_cell():
    image, cell = noisy_frame_with_a_cell()
    labels = np.zeros(image.shape, dtype=np.int32)
    labels[14:46, 14:46] = 3  # the cell and a six-pixel margin of background
    trimmed = trim_to_signal(labels.copy(), image, smoothing=1.0, sigmas=1.0)
    assert (trimmed[cell] == 3).mean() > 0.95  # the cell stays
    margin = labels == 3
    margin[18:42, 18:42] = False  # two pixels off the cell: beyond its smoothed edge
    assert (trimmed[margin] == 0).mean() > 0.75  # noise above one sigma keeps the rest


def test_a_mask_on_background_alone_loses_its_pixels_and_a_frame_without_background_is_left_as_is():
    image, _ = noisy_frame_with_a_cell()
    labels = np.zeros(image.shape, dtype=np.int32)
    labels[50:60, 2:12] = 5  # nothing but background under it
    assert (trim_to_signal(labels.copy(), image, 1.0, 1.0) == 5).sum() < 0.3 * 100
    everything = np.ones(image.shape, dtype=np.int32)
    np.testing.assert_array_equal(trim_to_signal(everything.copy(), image, 1.0, 1.0), everything)
