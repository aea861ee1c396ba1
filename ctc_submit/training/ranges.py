"""How far a training clip may be transformed: the ranges of the paper's augmentation, as data.

Apart from the resampling code so that both implementations (SimpleITK on the CPU, torch on a
GPU) draw from the same ranges, and a machine without SimpleITK can import them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AugmentationRanges:
    translation: float = 25.0
    flip_probability: float = 0.5
    rotation: float = np.pi
    scale: tuple[float, float] = (0.75, 1.25)
    elastic_displacement: float = 8.0
    elastic_grid: int = 4
    intensity_shift: float = 0.25
    intensity_scale: tuple[float, float] = (0.75, 1.25)


NO_AUGMENTATION = AugmentationRanges(
    translation=0.0,
    flip_probability=0.0,
    rotation=0.0,
    scale=(1.0, 1.0),
    elastic_displacement=0.0,
    intensity_shift=0.0,
    intensity_scale=(1.0, 1.0),
)
