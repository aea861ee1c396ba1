"""Masks trimmed to the cells' own signal: for fluorescence, where a cell is brighter than the background.

The network sees the frame on a 256x256 grid, and its masks come back through upsampling: a cell
of a few grid pixels' width (Fluo-C2DL-MSC's spindles, 10 pixels wide in a 992x832 frame seen at
a quarter of that) gets a margin of background around it that can triple its area, and
log-scaled nuclei (GOWT1) keep their blurred rims. Where the preset says so (``signal_sigmas``),
each mask keeps only the pixels of the frame, smoothed as for the network, that are brighter than
the background by that many noise sigmas; the background's level and noise are the median and
the scaled median absolute deviation of the pixels outside every mask. A mask that loses every
pixel goes, and the caller rechecks the tracks.
"""

from __future__ import annotations

import numpy as np

from ctc_submit.normalize import smoothed

MAD_TO_SIGMA = 1.4826  # the MAD of normally distributed noise times this is its standard deviation


def background_level(intensity: np.ndarray, outside: np.ndarray) -> tuple[float, float]:
    """Median and robust standard deviation of ``intensity`` over the ``outside`` pixels."""
    values = intensity[outside]
    median = float(np.median(values))
    return median, float(np.median(np.abs(values - median))) * MAD_TO_SIGMA


def trim_to_signal(labels: np.ndarray, image: np.ndarray, smoothing: float, sigmas: float) -> np.ndarray:
    """``labels`` (in place) without the pixels of ``image``, Gaussian-smoothed by ``smoothing``, that
    are within ``sigmas`` noise sigmas of the background; unchanged without background or objects."""
    outside = labels == 0
    if outside.all() or not outside.any():
        return labels
    intensity = smoothed(image, smoothing)
    level, noise = background_level(intensity, outside)
    labels[intensity <= level + sigmas * noise] = 0
    return labels
