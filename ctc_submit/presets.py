"""Per-dataset parameters of the method, as one table of data.

m_pts and c are from the paper's appendix (m_pts counted in 256x256 pixels); r_N is the
neighbour radius of the loss; the percentiles set the robust min/max of the normalisation;
border is the band (pixels at original scale) in which objects are dropped; parent_window is
how many earlier frames are searched for a new track's parent.

network_scale says at which scale a dataset is processed: 0 (the paper's way) resizes every frame
to 256x256 whatever its size; a positive value resizes it to that many network-grid pixels per
original pixel and runs the network on overlapping tiles of that grid
(:mod:`ctc_submit.model.tiling`). Small, dense nuclei lose too much at 256x256: Fluo-N2DH-SIM+
runs at 0.75, about twice the paper's 690 -> 256. Every value counted in grid pixels here (m_pts
an area, c and the lineage distances lengths) is counted on the paper's 256x256 grid and converted
to the actual grid by :func:`on_grid`.

The lineage thresholds were measured on the ground truth of the training sequences
(DIC-HeLa 01 silver truth, SIM+ 01 GT, 72 daughters): a daughter's first mask has 0.26-1.14
of her mother's last area (5th-95th percentile; 3 of 72 below 0.2, 4 above 1.3), and 5 % of
it or more inside the mother's last mask, dilated by a pixel, for all but two. The GT has
few tracks of one or two frames that neither start nor end the video (flicker_length). A cell
the segmentation misses for a frame or two lies wholly on background there (0.91-1.0 of its mask)
or is hidden under a neighbour (0-0.28), in the shipped model's DIC-HeLa 01 and 02 results and
the 01 silver truth (gap_fill_background).

A DIC-HeLa cell rounds up to divide: over the last 6 frames before the split (mitotic_frames), a
mother's smallest area is 0.51-0.78 of her median in the 01 silver truth (7 divisions), 0.31-0.67
and 0.40-0.55 in the shipped model's segmentation of 01 and 02 (14 divisions, the rounding seen in
the frames), against 0.92-2.02 where a mask over two cells comes apart there (6); hence
mitotic_area 0.85. Nuclei do not shrink so (0.30-1.19 over the SIM+ 01 GT's divisions): the
nuclear presets do not look (mitotic_frames 0). Fluo-C2DL-MSC's spindles round up to divide as HeLa
cells do, and its 01 GT has no division: with its shipped model the rule leaves 1 of the 5 divisions
found on 01 (34 tracks instead of 38, TRA 0.8641 -> 0.8639, CHOTA 0.648 -> 0.636).

A mask over two daughters that have just come apart is split a frame before it ends by the frame
pair that sees it beside the daughters: in the shipped model's DIC-HeLa 01 segmentation that pair
gives each daughter 0.21-0.56 of the mother's last mask (9 divisions) and the frame before gives
one of them 0.95-1.0 of it, so a division moves a frame earlier where each daughter has at least
early_split_share 0.2 of it (above 0.5: never).

Fluo-N2DH-GOWT1's nuclei run from 3 to 200 over a background of 0 and its robust range ends at 13:
linearly scaled, the dimmest sit 0.3 above the background while the brightest reach 16, and a model
missed 6 of the 28 dimmest on its held-out block. Its preset scales log(1 + intensity) (log_intensity),
which found all but one of them (held-out SEG: 0.707 for the best linear checkpoint, 0.742 for the log one).

min_cell_area drops objects whose largest mask over the video stays below it (original pixels):
fragments split off a nucleus and specks of debris. In the shipped GOWT1 model's segmentation of 01,
45 of 78 tracks matched no GT cell, 41 of them never larger than 980 pixels, while every matched
track's largest mask had 2 930 or more and the GT's interior nuclei have a median of 2 847 and a 5th
percentile of 2 161. Dropping objects below 300/500/800/1 000 pixels left 70/56/42/36 tracks (GT 27),
TRA 0.974/0.977/0.979/0.981 (0.973 before), SEG unchanged; GOWT1 took 1 000. The DIC-HeLa and SIM+
models leave one unmatched track each on 01: the others do not look (0).
Where a preset trims masks to the signal, an object's masks are measured as trimmed (before the
lineage, on the frames at full size): MSC 01 43 -> 38 tracks, 11 -> 6 of 1-2 frames, TRA 0.8595 ->
0.8641 (held-out 0.886 -> 0.896, SEG unchanged); GOWT1 01 31 -> 30 tracks. With its model retrained
with per-cell reach labels, two false tracks of 1-2 frames stay on GOWT1 01 (fragments of 560-1 150
pixels as written): at 1 500 pixels 29 tracks, 2 of 1-2 frames (GT 27, 1), TRA 0.9844 -> 0.9845,
CT 0.597 -> 0.607 (2 000: the same tracks, TRA 0.9850), held-out block unchanged; GOWT1 takes 1 500,
below the GT's 5th percentile.
A dividing GOWT1 nucleus changes shape so much that her daughter's first mask had IoU 0.08 (dilated)
with her last mask (01, frames 18-19); with parent_min_iou 0.05 and a new track taking over from a
mother whose remainder flickers out (lineage._hands_over), GOWT1 01 has 28 tracks, none of 1-2 frames
(GT 27, 1), TRA unchanged.

GOWT1's frames are upsampled 4x from the grid (DIC-HeLa's 2x), and its outlines are smoothed more
(upsample_smoothing 2.0 grid pixels, against 0.75): on its held-out block SEG 0.744 -> 0.754 (1.25:
0.749), TRA 0.976 -> 0.975; on all of 01 SEG 0.691 -> 0.694, 36 -> 33 tracks, 2 -> 3 one-frame
tracks, TRA 0.9805 -> 0.9787.

signal_sigmas trims each mask, after upsampling, to the pixels brighter than the background by that
many noise sigmas (:mod:`ctc_submit.tracking.intensity`): for fluorescence only. On the held-out
blocks, GOWT1 SEG 0.754 -> 0.778 at 1 sigma (0.771 at 0.5, 0.775 at 2, 0.765 at 3, where TRA falls
from 0.975 to 0.935); MSC (its model in training, iteration 1650) 0.287 -> 0.429 at 1 sigma (0.410
at 0.5, 0.423 at 2); SIM+, whose masks are tight already, 0.8468 at 0, 1 and 2: it stays off.
MSC's top rows are brighter than the rest of its background by two noise sigmas, and its model
covered them with one mask that swallowed three cells reaching into them: measured against a
background surface of row and column medians (and at 2 sigmas) instead of one level, MSC SEG
0.429 -> 0.460, GOWT1 0.778 -> 0.780 (TRA unchanged).

signal_object_sigmas makes a cell of each region of signal, that many sigmas up, that touches no
mask (trimmed as it will be written) and has min_cell_area pixels or more; such cells join the
network's on its grid before the lineage is built, labelled from frame to frame by overlap. On MSC's
held-out block (its model in training, iteration 1650, c 0.1) the model had missed 7 of 42 GT cells,
dim ones and those in the bright top rows: SEG / TRA 0.464 / 0.772 without, 0.516 / 0.894 at 2
sigmas, 0.522 / 0.883 at 3 and 0.511 / 0.861 at 4 (500 pixels); at 3 sigmas and 250 / 1 000 pixels,
0.522 / 0.887 and 0.527 / 0.886. MSC 01's GT cells have 1 255 pixels or more (5th percentile 1 650):
MSC takes 3 sigmas and 1 000 pixels. A piece of min_cell_area or more that trimming cuts off a mask
beside its largest one is such a cell too (MSC's model gives touching cells one mask: on 01, 24 masks
fall apart into two such pieces, and in 14 of them the second covers a GT cell of its own that was
not written): MSC held-out SEG 0.527 -> 0.523, TRA 0.909 -> 0.933, DET 0.933 -> 0.954; all of 01
SEG 0.5112 -> 0.5120, TRA 0.8730 -> 0.8814, DET 0.898 -> 0.906, 30 tracks as before.

min_cell_sigmas drops an object whose brightest tenth of pixels never reaches that many noise sigmas
above the background in any frame: MSC's thin processes and debris, which the network and the
signal pick up as objects of their own. In the shipped MSC model's segmentation of 01, the 8 tracks
that cover no GT cell peak at 7.9-13.0 sigmas and those that cover one at 12.8 or more (the GT's
own tracks, on their markers, at 15.9 or more). MSC takes 12: held-out SEG 0.527 (unchanged), TRA
0.896 -> 0.909, DET 0.918 -> 0.933; all of 01 35 -> 30 tracks, TRA 0.8639 -> 0.8730. At 10 TRA
0.905; at 14 TRA 0.911, but 01 loses a real cell (SEG 0.511 -> 0.505).

A mask that grows over a neighbour and comes apart again looks like a division, but the part that
comes out is the neighbour whose track ended when she went under: in the shipped model's SIM+ 01
segmentation, 13 of its 40 divisions have a daughter whose first mask has IoU 0.46-0.88 with the
last mask of a childless track that ended 1-8 frames before, against at most 0.38 for the
daughters of the divisions the GT has. Such a daughter continues that track (hidden_window,
hidden_min_iou), and the mother's other candidate continues the mother.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ctc_submit.datasets import dataset_named
from ctc_submit.io import CTCInputError


@dataclass(frozen=True)
class Preset:
    name: str
    m_pts: int
    c: float
    r_n: float
    low_percentile: float
    high_percentile: float
    border: int
    parent_window: int
    min_daughter_area: float = 0.2
    max_daughter_area: float = 1.3
    min_daughter_overlap: float = 0.05
    mitotic_area: float = 0.85
    mitotic_frames: int = 0
    flicker_length: int = 2
    early_split_share: float = 0.2
    network_scale: float = 0.0  # network-grid pixels per original pixel; 0: the whole frame resized to 256x256
    # Original pixels: an object whose largest mask stays below this is a fragment or debris, not a cell (0: off)
    min_cell_area: float = 0.0
    # The same for every dataset: normalisation, clustering, merge, lineage and upsampling thresholds.
    normalization_sigma: float = 2.0  # Gaussian smoothing before scaling, in original pixels
    log_intensity: bool = False  # scale log(1 + intensity), for nuclei whose brightness spans two orders of magnitude
    # A pixel or cluster this close (cosine) to the background embedding is background; a background spread out
    # below it is told from the cells by the split of its cosines instead (clustering.background_threshold).
    background_cosine: float = 0.95
    merge_min_iou: float = 0.25  # labels of two pairs on their shared frame are one object from this IoU up
    parent_min_iou: float = 0.1  # a new track's parent: the earlier object of highest IoU, from this IoU up
    parent_dilation: int = 1  # 256x256-grid pixels the new track's first mask is dilated by for the parent search
    gap_min_iou: float = 0.25  # a cell missing for a frame or two is linked across the gap only where it was
    hidden_window: int = 8  # frames a cell may hide under a neighbour's mask and come out again as herself ...
    hidden_min_iou: float = 0.45  # ... where her first mask then has this IoU with her last before, not a daughter
    gap_fill_background: float = (
        0.5  # ... and filled in with its mask where this share of it lies on background (> 1: never)
    )
    flicker_neighbour_distance: int = (
        3  # 256x256-grid pixels: a flicker this close to another object is a fragment of it
    )
    upsample_smoothing: float = 0.75  # Gaussian sigma of the label-aware upsampling, in network-grid pixels
    # Fluorescence: a mask keeps only pixels brighter than the background by this many noise sigmas (0: off)
    signal_sigmas: float = 0.0
    # ... and a region of signal this many sigmas up that touches no mask, of min_cell_area or more, is a cell (0: off)
    signal_object_sigmas: float = 0.0
    # ... and an object whose brightest tenth never reaches this many sigmas up is a process or debris (0: off)
    min_cell_sigmas: float = 0.0

    @property
    def reads_signal(self) -> bool:
        """Whether the pipeline needs the raw frames again after the network, to measure their signal."""
        return self.signal_sigmas > 0 or self.signal_object_sigmas > 0 or self.min_cell_sigmas > 0


# fmt: off
PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in [
        #      name               m_pts  c      r_N  low%  high% border window
        Preset("DIC-C2DH-HeLa", 1000, 0.02, 50, 20.0, 10.0, 50, 3, mitotic_frames=6),
        Preset("Fluo-C2DL-MSC", 500, 0.1, 150, 20.0, 1.0, 0, 3,
               min_cell_area=1000, signal_sigmas=2.0, signal_object_sigmas=3.0, min_cell_sigmas=12.0,
               mitotic_frames=6),
        Preset("Fluo-N2DH-GOWT1", 50, 0.001, 50, 20.0, 10.0, 0, 3,
               log_intensity=True, min_cell_area=1500, upsample_smoothing=2.0, signal_sigmas=1.0,
               parent_min_iou=0.05),
        Preset("Fluo-N2DH-SIM+", 100, 0.001, 50, 20.0, 1.0, 0, 3, network_scale=0.75),
        Preset("Fluo-N2DL-HeLa", 25, 0.01, 25, 20.0, 10.0, 0, 3),
        Preset("PhC-C2DH-U373", 500, 0.005, 50, 20.0, 10.0, 0, 3),
    ]
}
# fmt: on


def get_preset(name: str) -> Preset:
    """The preset of a dataset named as in :mod:`ctc_submit.datasets` (short names too); a dataset
    the paper gives no parameters for is an input error listing those it does."""
    dataset = dataset_named(name)
    if dataset.name not in PRESETS:
        raise CTCInputError(f"no method parameters (preset) for {dataset.name}; known for: {', '.join(PRESETS)}")
    return PRESETS[dataset.name]


# Type and smallest (and largest) sensible value of every field a model card may tune (a bool: either).
OVERRIDE_LIMITS: dict[str, tuple[type, float, float]] = {
    "m_pts": (int, 2, math.inf),
    "c": (float, 0.0, math.inf),
    "r_n": (float, 1e-9, math.inf),
    "low_percentile": (float, 1e-9, 100.0),
    "high_percentile": (float, 1e-9, 100.0),
    "border": (int, 0, math.inf),
    "parent_window": (int, 1, math.inf),
    "min_daughter_area": (float, 0.0, math.inf),
    "max_daughter_area": (float, 1e-9, math.inf),
    "min_daughter_overlap": (float, 0.0, 1.0),
    "mitotic_area": (float, 0.0, math.inf),
    "mitotic_frames": (int, 0, math.inf),
    "flicker_length": (int, 0, math.inf),
    "early_split_share": (float, 0.0, math.inf),
    "network_scale": (float, 0.0, 4.0),
    "normalization_sigma": (float, 0.0, math.inf),
    "log_intensity": (bool, 0, 1),
    "background_cosine": (float, -1.0, 1.0),
    "merge_min_iou": (float, 0.0, 1.0),
    "parent_min_iou": (float, 0.0, 1.0),
    "parent_dilation": (int, 0, math.inf),
    "gap_min_iou": (float, 0.0, 1.0),
    "hidden_window": (int, 0, math.inf),
    "hidden_min_iou": (float, 0.0, 1.0),
    "gap_fill_background": (float, 0.0, math.inf),
    "flicker_neighbour_distance": (int, 0, math.inf),
    "upsample_smoothing": (float, 0.0, math.inf),
    "min_cell_area": (float, 0.0, math.inf),
    "signal_sigmas": (float, 0.0, math.inf),
    "signal_object_sigmas": (float, 0.0, math.inf),
    "min_cell_sigmas": (float, 0.0, math.inf),
}


def on_grid(preset: Preset, ratio: float) -> Preset:
    """``preset`` with its grid-pixel values converted from the paper's 256x256 grid to a grid
    ``ratio`` times as fine (its side lengths' geometric mean over 256): m_pts by the area ratio,
    c (weight per pixel) and the flicker neighbour and parent dilation distances by the length ratio.

    The table keeps the paper's units, so a preset means the same cells at any scale; on the
    256x256 grid (``ratio`` 1) nothing changes. The upsampling's smoothing stays in grid pixels:
    it smooths the grid's own staircase.
    """
    if ratio == 1:
        return preset
    return replace(
        preset,
        m_pts=max(2, round(preset.m_pts * ratio**2)),
        c=preset.c / ratio,
        flicker_neighbour_distance=round(preset.flicker_neighbour_distance * ratio),
        parent_dilation=round(preset.parent_dilation * ratio),
    )


def check_overrides(overrides: object) -> None:
    """Preset values from a model card: known fields (KeyError), numbers of the right kind in range (ValueError)."""
    if not isinstance(overrides, dict):
        raise ValueError(f"preset_overrides must be a mapping, got {overrides!r}")
    unknown = sorted(set(overrides) - set(OVERRIDE_LIMITS))
    if unknown:
        raise KeyError(f"unknown preset field(s) in the model card: {', '.join(map(str, unknown))}")
    for name, value in overrides.items():
        kind, low, high = OVERRIDE_LIMITS[name]
        if kind is bool:
            if not isinstance(value, bool):
                raise ValueError(f"preset_overrides: {name} must be true or false, got {value!r}")
            continue
        allowed = (int,) if kind is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, allowed) or not math.isfinite(value):
            raise ValueError(f"preset_overrides: {name} must be a finite {kind.__name__}, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"preset_overrides: {name} = {value!r} is out of range [{low}, {high}]")


def tuned_preset(preset: Preset, overrides: dict) -> Preset:
    """``preset`` with the clustering values a model card tunes for its own embeddings.

    How far apart a network pushes neighbouring cells depends on the network, so a model card
    may carry, e.g., its own spatial weight c; the table keeps the paper's values.
    """
    check_overrides(overrides)
    return replace(preset, **overrides)
