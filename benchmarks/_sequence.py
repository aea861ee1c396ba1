"""A training sequence as the network and its loss see it, shared by the benchmarks that score a
model's embeddings against the truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ctc_submit.io import list_frames, read_frame
from ctc_submit.normalize import NETWORK_SIZE, normalize_frames
from ctc_submit.presets import Preset
from ctc_submit.training.augment import OutputGrid, resample_labels
from ctc_submit.training.data import load_training_labels


def sequence_on_grid(data: Path, sequence: str, preset: Preset) -> tuple[np.ndarray, np.ndarray]:
    """Normalised frames (T, 256, 256) of ``data/sequence`` and its training labels on the same grid."""
    paths = list_frames(data / sequence)
    frames = np.stack(list(normalize_frames((read_frame(path) for path in paths), preset)))
    labels = load_training_labels(data, sequence, len(frames), len(paths[0].stem) - 1)
    reference = OutputGrid(NETWORK_SIZE, NETWORK_SIZE, (0, 0)).reference(labels.shape[1:])
    identity = sitk.Transform(2, sitk.sitkIdentity)
    return frames, np.stack([resample_labels(frame, identity, reference) for frame in labels])
