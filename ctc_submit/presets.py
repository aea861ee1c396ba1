"""Per-dataset parameters of the method, as one table of data.

m_pts and c are from the paper's appendix (m_pts counted in 256x256 pixels); r_N is the
neighbour radius of the loss; the percentiles set the robust min/max of the normalisation;
border is the band (pixels at original scale) in which objects are dropped; parent_window is
how many earlier frames are searched for a new track's parent.

The lineage thresholds were measured on the ground truth of the training sequences
(DIC-HeLa 01 silver truth, SIM+ 01 GT, 72 daughters): a daughter's first mask has 0.26-1.14
of her mother's last area (5th-95th percentile; 3 of 72 below 0.2, 4 above 1.3), and 5 % of
it or more inside the mother's last mask, dilated by a pixel, for all but two. The GT has
few tracks of one or two frames that neither start nor end the video (flicker_length).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


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
    flicker_length: int = 2


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in [
        #      name               m_pts  c      r_N  low%  high% border window
        Preset("DIC-C2DH-HeLa", 1000, 0.02, 50, 20.0, 10.0, 50, 3),
        Preset("Fluo-C2DL-MSC", 500, 0.1, 150, 20.0, 1.0, 0, 3),
        Preset("Fluo-N2DH-GOWT1", 50, 0.001, 50, 20.0, 10.0, 0, 3),
        Preset("Fluo-N2DH-SIM+", 100, 0.001, 50, 20.0, 1.0, 0, 3),
        Preset("Fluo-N2DL-HeLa", 25, 0.01, 25, 20.0, 10.0, 0, 3),
        Preset("PhC-C2DH-U373", 500, 0.005, 50, 20.0, 10.0, 0, 3),
    ]
}

SHORT_NAMES = {"DIC-HeLa": "DIC-C2DH-HeLa"}


def get_preset(name: str) -> Preset:
    """Look a preset up by dataset name (or the paper's short name), listing the known ones on failure."""
    key = SHORT_NAMES.get(name, name)
    if key not in PRESETS:
        known = ", ".join(sorted(PRESETS))
        raise KeyError(f"unknown dataset {name!r}; known: {known}")
    return PRESETS[key]


def tuned_preset(preset: Preset, overrides: dict) -> Preset:
    """``preset`` with the clustering values a model card tunes for its own embeddings.

    How far apart a network pushes neighbouring cells depends on the network, so a model card
    may carry, e.g., its own spatial weight c; the table keeps the paper's values.
    """
    known = {field.name for field in fields(Preset)} - {"name"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise KeyError(f"unknown preset field(s) in the model card: {', '.join(unknown)}")
    return replace(preset, **overrides)
