"""Masks trimmed to the cells' own signal, and cells the network missed found by it: for fluorescence.

The network sees the frame on a 256x256 grid, and its masks come back through upsampling: a cell
of a few grid pixels' width (Fluo-C2DL-MSC's spindles, 10 pixels wide in a 992x832 frame seen at
a quarter of that) gets a margin of background around it that can triple its area, and
log-scaled nuclei (GOWT1) keep their blurred rims. Where the preset says so (``signal_sigmas``),
each mask keeps only the pixels of the frame, smoothed as for the network, that are brighter than
the background by that many noise sigmas. A mask that loses every pixel goes, and the caller
rechecks the tracks.

The background is not flat: MSC's top rows are brighter than the rest by two noise sigmas, and
its model covers them with one mask that swallows the cells reaching into them. The background
is therefore a surface, each row's median plus each column's median less their common level (cells
cover far less than half of any row or column of these frames), and the noise is the scaled
median absolute deviation from it of the pixels outside every mask.

Where the preset says so (``signal_object_sigmas``), a connected region of signal that touches no
mask and is as large as a cell (``min_cell_area``) becomes an object of its own: a dim cell, or one
the network merged into a band of background, which the masks left out. So does a piece as large as
a cell that trimming cut off a mask beside its largest one: the network gave two touching cells one
mask, and only the larger would be written. Such cells join the
segmentation on the network grid before the lineage is built (:func:`signal_cells`), so that the
lineage's rules (flickers, gaps, a cell the network loses for a frame) apply to them as to any cell.

Where the preset says so (``min_cell_sigmas``), an object must be bright somewhere: a cell's body
stands far above the noise in at least one frame, while the thin processes and debris that the network
and the signal also pick up stay dim in every frame. The brightness of a mask is the level its
brightest tenth of pixels reaches (:func:`label_quantiles`), robust to a few hot pixels and to the
dim rim that trimming leaves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ctc_submit.normalize import smoothed
from ctc_submit.tracking.upsample import largest_pieces
from ctc_submit.validate import connected_pieces

BRIGHT_QUANTILE = 0.9  # a mask's brightness: the level its brightest tenth of pixels reaches
MAD_TO_SIGMA = 1.4826  # the MAD of normally distributed noise times this is its standard deviation
PROFILE_SMOOTHING = 5  # rows (columns) over which the background's median profiles are median-filtered


def background_surface(intensity: np.ndarray) -> np.ndarray:
    """The background under ``intensity`` as row medians plus column medians less the median of the
    row medians: exact for a background that adds a function of the row to one of the column."""
    rows = ndimage.median_filter(np.median(intensity, axis=1), PROFILE_SMOOTHING, mode="nearest")
    columns = ndimage.median_filter(np.median(intensity, axis=0), PROFILE_SMOOTHING, mode="nearest")
    return rows[:, None] + columns[None, :] - float(np.median(rows))


def significance(image: np.ndarray, smoothing: float, outside: np.ndarray) -> np.ndarray | None:
    """``image``, Gaussian-smoothed by ``smoothing``, above its background surface in noise sigmas,
    the noise measured over the ``outside`` pixels; None without any (or without noise there)."""
    if not outside.any():
        return None
    intensity = smoothed(image, smoothing)
    residual = intensity - background_surface(intensity)
    values = residual[outside]
    noise = float(np.median(np.abs(values - np.median(values)))) * MAD_TO_SIGMA
    if noise == 0:
        return None
    return (residual / noise).astype(np.float32)


def trim_to_signal(labels: np.ndarray, sigmas_above: np.ndarray | None, sigmas: float) -> np.ndarray:
    """``labels`` (in place) without the pixels of ``sigmas_above`` (:func:`significance`) at or below
    ``sigmas``; unchanged where the frame had no background to measure the noise on."""
    if sigmas_above is not None and sigmas > 0:
        labels[sigmas_above <= sigmas] = 0
    return labels


def signal_objects(labels: np.ndarray, sigmas_above: np.ndarray | None, sigmas: float, min_area: int) -> np.ndarray:
    """Regions of more than ``sigmas`` (of :func:`significance`) that touch no object of ``labels``
    (8-neighbourhood) and have ``min_area`` pixels or more, labelled 1..n in raster order of their
    first pixel; all zero when ``sigmas`` is 0 or the frame had no background."""
    regions = np.zeros(labels.shape, dtype=np.int32)
    if sigmas_above is None or sigmas <= 0:
        return regions
    candidates, count = ndimage.label(sigmas_above > sigmas, structure=np.ones((3, 3)))
    touching = np.unique(candidates[ndimage.binary_dilation(labels > 0, structure=np.ones((3, 3)))])
    return _large_regions(candidates, count, min_area, touching)


def _large_regions(regions: np.ndarray, count: int, min_area: int, left_out: np.ndarray) -> np.ndarray:
    """The regions 1..``count`` of ``regions`` with ``min_area`` pixels or more, but those of
    ``left_out``, labelled 1..n in the order of their labels."""
    areas = np.bincount(regions.ravel(), minlength=count + 1)
    keep = np.flatnonzero(areas >= max(min_area, 1))
    keep = np.setdiff1d(keep[keep > 0], left_out)
    lookup = np.zeros(count + 1, dtype=np.int32)
    lookup[keep] = np.arange(1, len(keep) + 1, dtype=np.int32)
    return lookup[regions]


def label_quantiles(labels: np.ndarray, values: np.ndarray, quantile: float, count: int) -> np.ndarray:
    """For each label 0..``count`` - 1, the ``quantile`` of ``values`` over its pixels of ``labels``
    (the lower neighbour, no interpolation); 0 for a label without pixels. Label 0 is left at 0."""
    levels = np.zeros(count, dtype=np.float64)
    inside = labels > 0
    owners = labels[inside].astype(np.int64)
    if owners.size == 0:
        return levels
    order = np.lexsort((values[inside], owners))
    sizes = np.bincount(owners, minlength=count)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    present = np.flatnonzero(sizes)
    present = present[present > 0]
    picks = starts[present] + np.floor(quantile * (sizes[present] - 1)).astype(np.int64)
    levels[present] = values[inside][order][picks]
    return levels


@dataclass(frozen=True)
class FrameSignal:
    """A frame's signal beside the network grid's objects: ``kept`` holds the objects at the frame's
    resolution (each frame pixel under the grid pixel it falls in, ``rows``/``columns`` of the grid)
    as they will be written, trimmed to the signal and to their largest pieces; ``sigmas_above`` is
    :func:`significance` (None without background)."""

    kept: np.ndarray
    sigmas_above: np.ndarray | None
    rows: np.ndarray
    columns: np.ndarray
    left_out: np.ndarray  # pixels of the trimmed objects outside their largest pieces


def frame_signal(grid_labels: np.ndarray, image: np.ndarray, smoothing: float, trim_sigmas: float) -> FrameSignal:
    """The :class:`FrameSignal` of ``image`` beside ``grid_labels``, trimmed to ``trim_sigmas``."""
    rows = np.arange(image.shape[0]) * grid_labels.shape[0] // image.shape[0]
    columns = np.arange(image.shape[1]) * grid_labels.shape[1] // image.shape[1]
    covered = grid_labels[rows[:, None], columns[None, :]]
    sigmas_above = significance(image, smoothing, covered == 0)
    trimmed = trim_to_signal(covered, sigmas_above, trim_sigmas)
    kept = largest_pieces(trimmed)
    return FrameSignal(kept, sigmas_above, rows, columns, (trimmed > 0) & (kept == 0))


def split_off_cells(signal: FrameSignal, min_area: int) -> np.ndarray:
    """The pieces, of ``min_area`` pixels or more, that trimming cut off an object beside its largest
    one (which alone is written), labelled 1..n: a mask over two touching cells comes apart there,
    and the second cell is a cell of its own, not a margin to drop."""
    pieces, count = connected_pieces(signal.left_out)
    return _large_regions(pieces, count, min_area, np.zeros(0, dtype=np.int64))


def signal_cells(
    signal: FrameSignal, grid_shape: tuple[int, ...], sigmas: float, min_area: int
) -> tuple[np.ndarray, np.ndarray]:
    """The cells beside ``signal``'s kept objects, labelled 1..n, on the grid and at the frame's
    resolution: the pieces trimming split off (:func:`split_off_cells`), then the
    :func:`signal_objects` that touch neither. A grid pixel takes the highest region label among its
    frame pixels. A region may so take grid pixels of an object's margin, which trimming takes away
    from it."""
    regions = split_off_cells(signal, min_area)
    pieces = int(regions.max(initial=0))
    beside = signal_objects(np.maximum(signal.kept, regions), signal.sigmas_above, sigmas, min_area)
    regions = np.where(beside > 0, beside + pieces, regions)
    found = np.zeros(grid_shape, dtype=np.int32)
    ys, xs = np.nonzero(regions)
    np.maximum.at(found, (signal.rows[ys], signal.columns[xs]), regions[ys, xs])
    return found, regions
