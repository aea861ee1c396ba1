"""Synthetic embeddings of real frames: the network's output as it would be if it were perfect, plus noise.

Every object of a DIC-HeLa silver-truth segmentation gets the ID of the tracking marker it
covers (so IDs are consistent through time), every ID one fixed random unit vector, the
background another; Gaussian noise is added and the vectors renormalised. This exercises the
clustering and tracking stages on real shapes and motions without any network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ctc_submit.io import read_labels

EMBEDDING_SIZE = 16
UNMARKED = 10_000  # IDs of silver-truth objects without a marker start here


def resize_nearest(labels: np.ndarray, size: tuple[int, int] = (256, 256)) -> np.ndarray:
    rows = ((np.arange(size[0]) + 0.5) * labels.shape[0] / size[0]).astype(int)
    cols = ((np.arange(size[1]) + 0.5) * labels.shape[1] / size[1]).astype(int)
    return labels[rows][:, cols]


def tracked_labels(sequence_dir: Path, frame: int) -> np.ndarray:
    """Silver-truth segmentation of ``frame`` with each object relabelled by the marker it overlaps most."""
    sequence_dir = Path(sequence_dir)
    segmentation = read_labels(sequence_dir.with_name(f"{sequence_dir.name}_ST") / "SEG" / f"man_seg{frame:03d}.tif")
    markers = read_labels(sequence_dir.with_name(f"{sequence_dir.name}_GT") / "TRA" / f"man_track{frame:03d}.tif")
    result = np.zeros(segmentation.shape, dtype=np.int32)
    for label in np.unique(segmentation[segmentation > 0]):
        inside = segmentation == label
        ids, counts = np.unique(markers[inside], return_counts=True)
        counts, ids = counts[ids > 0], ids[ids > 0]
        result[inside] = ids[np.argmax(counts)] if len(ids) else UNMARKED + label
    return result


def label_vector(label: int) -> np.ndarray:
    """The same unit vector for a label in every frame; label 0 (background) is the first axis."""
    if label == 0:
        vector = np.zeros(EMBEDDING_SIZE)
        vector[0] = 1.0
        return vector
    vector = np.random.default_rng(label).normal(size=EMBEDDING_SIZE)
    return vector / np.linalg.norm(vector)


def synthetic_embeddings(labels: np.ndarray, rng: np.random.Generator, noise: float = 0.05) -> np.ndarray:
    """(E, H, W) float32 unit vectors: each pixel its label's vector plus Gaussian noise."""
    embeddings = np.empty((EMBEDDING_SIZE, *labels.shape), dtype=np.float32)
    for label in np.unique(labels):
        embeddings[:, labels == label] = label_vector(int(label))[:, None]
    embeddings += rng.normal(scale=noise, size=embeddings.shape).astype(np.float32)
    return embeddings / np.linalg.norm(embeddings, axis=0, keepdims=True)


def overlapping_pairs(embeddings: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Per-frame embeddings as the network's ``embed_pairs`` gives them: (2, E, H, W) stacks (t-1, t),
    or a single (1, E, H, W) stack for a one-frame sequence."""
    embeddings = list(embeddings)
    if len(embeddings) == 1:
        yield embeddings[0][None]
    for previous, current in zip(embeddings, embeddings[1:]):
        yield np.stack([previous, current])


def synthetic_sequence(sequence_dir: Path, frames: range, seed: int = 0, noise: float = 0.05):
    """Yields (256x256 tracked labels, their synthetic embeddings) for each frame."""
    rng = np.random.default_rng(seed)
    for frame in frames:
        labels = resize_nearest(tracked_labels(sequence_dir, frame))
        yield labels, synthetic_embeddings(labels, rng, noise)
