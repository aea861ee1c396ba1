"""The grid frames are processed on: 256x256 as in the paper, or the frame at the preset's scale."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ctc_submit.io import read_frame
from ctc_submit.normalize import NETWORK_SIZE, grid_ratio, network_grid, normalize_frames, smooth_and_scale
from ctc_submit.presets import get_preset


def test_the_grid_is_256_without_a_scale_and_the_frame_scaled_with_one_but_never_smaller_than_a_tile():
    assert network_grid((690, 628), 0.0) == NETWORK_SIZE == network_grid((64, 48), 0.0)
    assert network_grid((690, 628), 0.75) == (518, 471)
    assert network_grid((200, 1000), 0.75) == (256, 750)
    assert grid_ratio(NETWORK_SIZE) == 1.0 and grid_ratio((512, 512)) == 2.0 and grid_ratio((256, 1024)) == 2.0


def test_frames_are_normalised_onto_the_presets_grid(ctc_data):
    frame = read_frame(ctc_data / "Fluo-N2DH-SIM+" / "01" / "t000.tif")
    preset = get_preset("Fluo-N2DH-SIM+")
    (tiled,) = normalize_frames([frame], preset)
    (whole,) = normalize_frames([frame], replace(preset, network_scale=0.0))
    assert tiled.shape == (518, 471) and whole.shape == (256, 256)
    assert tiled.dtype == np.float32 and -1.5 < tiled.mean() < 0 and tiled.max() > 0.5


def test_a_log_scale_lifts_dim_nuclei_off_the_background_that_a_linear_one_leaves_them_on():
    """Background 0, a dim nucleus at 3 and bright ones at 200, as in Fluo-N2DH-GOWT1."""
    frame = np.zeros((100, 100), dtype=np.uint8)
    frame[10:30, 10:30] = 3
    frame[50:80, 50:80] = 200
    frame[10:40, 60:90] = 200
    for log_intensity, least_contrast, most_contrast in ((False, 0.0, 0.1), (True, 0.3, 2.0)):
        scaled = smooth_and_scale(frame, 20.0, 10.0, 2.0, log_intensity)
        background, dim, bright = scaled[95, 5], scaled[20, 20], scaled[65, 65]
        assert least_contrast < dim - background < most_contrast and bright > dim
