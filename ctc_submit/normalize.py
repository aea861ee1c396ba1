"""Stage 1: intensity normalisation and resizing of raw frames to the network grid.

The grid is 256x256 (the network's input) for a preset without ``network_scale``, as in the
paper; with one it is the frame resized by that scale, which the network covers in tiles.
"""

from __future__ import annotations

import math
from typing import Iterable, Iterator

import numpy as np
from scipy import ndimage

from ctc_submit.presets import Preset

NETWORK_SIZE = (256, 256)


def network_grid(shape: tuple[int, ...], scale: float) -> tuple[int, int]:
    """The grid a frame of ``shape`` is processed on: NETWORK_SIZE for ``scale`` 0, else the frame
    resized by ``scale`` (whole pixels), at least NETWORK_SIZE along each axis so a tile fits."""
    if not scale:
        return NETWORK_SIZE
    rows, cols = (max(size, round(original * scale)) for size, original in zip(NETWORK_SIZE, shape))
    return rows, cols


def grid_ratio(grid: tuple[int, ...]) -> float:
    """How many times finer ``grid`` is than NETWORK_SIZE, as a length (geometric mean of the axes):
    the factor that converts the paper's 256x256-grid values (see :func:`ctc_submit.presets.on_grid`)."""
    return math.sqrt(grid[0] * grid[1] / (NETWORK_SIZE[0] * NETWORK_SIZE[1]))


def robust_range(image: np.ndarray, low_percentile: float, high_percentile: float) -> tuple[float, float]:
    """Medians of the lowest ``low_percentile`` % and highest ``high_percentile`` % of values.

    Medians of the tails are stable against a few saturated or dead pixels, unlike min/max.
    """
    values = np.sort(image, axis=None)
    low_count = max(1, int(round(values.size * low_percentile / 100)))
    high_count = max(1, int(round(values.size * high_percentile / 100)))
    return float(np.median(values[:low_count])), float(np.median(values[-high_count:]))


def smoothed(image: np.ndarray, sigma: float = Preset.normalization_sigma) -> np.ndarray:
    """The frame as every stage sees its intensities: float32, Gaussian-smoothed by ``sigma`` original pixels."""
    return ndimage.gaussian_filter(np.asarray(image, dtype=np.float32), sigma)


def smooth_and_scale(
    image: np.ndarray,
    low_percentile: float,
    high_percentile: float,
    sigma: float = Preset.normalization_sigma,
    log_intensity: bool = False,
) -> np.ndarray:
    """Gaussian smoothing (``sigma`` in original pixels), then the robust range mapped to [-1, 1], at the frame's own size.

    With ``log_intensity`` the range is taken of log(1 + intensity above the frame's darkest value):
    where the brightest nuclei are fifty times as bright as the dimmest, a linear scale leaves the
    dim ones a hair above the background."""
    intensity = smoothed(image, sigma)
    if log_intensity:
        intensity = np.log1p(intensity - intensity.min())
    low, high = robust_range(intensity, low_percentile, high_percentile)
    scale = 2.0 / max(high - low, 1e-6)
    return (intensity - low) * scale - 1.0


def resize_linear(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize with pixel centres aligned (aspect ratio not kept, as in training)."""
    zoom = (size[0] / image.shape[0], size[1] / image.shape[1])
    rows = (np.arange(size[0]) + 0.5) / zoom[0] - 0.5
    cols = (np.arange(size[1]) + 0.5) / zoom[1] - 0.5
    grid = np.meshgrid(rows, cols, indexing="ij")
    return ndimage.map_coordinates(image, grid, order=1, mode="nearest").astype(np.float32)


def scaled_at_frame_size(image: np.ndarray, preset: Preset) -> np.ndarray:
    """:func:`smooth_and_scale` with the preset's normalisation: the frames training crops its clips from."""
    return smooth_and_scale(
        image, preset.low_percentile, preset.high_percentile, preset.normalization_sigma, preset.log_intensity
    )


def normalize_frame(image: np.ndarray, preset: Preset, size: tuple[int, int] = NETWORK_SIZE) -> np.ndarray:
    """A raw frame as the network sees it: normalised as ``preset`` says, resized to ``size``."""
    return resize_linear(scaled_at_frame_size(image, preset), size)


def normalize_frames(images: Iterable[np.ndarray], preset: Preset) -> Iterator[np.ndarray]:
    """Raw frames in, network inputs on the preset's grid (:func:`network_grid`) float32 out, with the
    preset's smoothing, intensity scale and percentiles."""
    for image in images:
        yield normalize_frame(image, preset, network_grid(image.shape, preset.network_scale))
