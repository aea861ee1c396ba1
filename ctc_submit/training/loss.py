"""Cosine embedding loss (Payer et al. 2018, eq. 2), computed on consecutive frame pairs.

Pixels of one instance are pulled towards their mean direction; the mean is pushed orthogonal
to the pixels of *neighbouring* instances only (within r_N), so a 16-d space suffices for any
number of cells: far-apart cells may share a direction, and the clustering separates them by
position. Pairs (t-1, t) are the unit because the tracker clusters exactly such pairs: the same
cell must keep its direction across the two frames, mother and daughters must not.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

IGNORE = -1
NEIGHBOUR_GRID_STEP = 4
NEIGHBOUR_WEIGHTINGS = ("pixels", "instances")


def neighbour_matrix(labels: np.ndarray, instance_ids: np.ndarray, radius: float) -> np.ndarray:
    """Boolean (K, K): instances closer than ``radius`` pixels in any frame of the stack.

    Distances are taken on a grid coarsened by NEIGHBOUR_GRID_STEP, which is far below r_N
    and keeps the K distance transforms cheap.
    """
    step = NEIGHBOUR_GRID_STEP
    coarse = labels[:, ::step, ::step]
    neighbours = np.zeros((len(instance_ids), len(instance_ids)), dtype=bool)
    for i, instance in enumerate(instance_ids):
        inside = coarse == instance
        if not inside.any():
            continue
        distance = np.stack(
            [
                ndimage.distance_transform_edt(~frame) if frame.any() else np.full(frame.shape, np.inf)
                for frame in inside
            ]
        )
        for j, other in enumerate(instance_ids):
            if i != j:
                other_pixels = coarse == other
                neighbours[i, j] = other_pixels.any() and distance[other_pixels].min() * step <= radius
    return neighbours | neighbours.T


def pair_loss(
    embeddings: torch.Tensor,
    labels: np.ndarray,
    radius: float,
    max_instances: int,
    rng: np.random.Generator,
    background_weight: float = 0.0,
    neighbour_weighting: str = "pixels",
) -> torch.Tensor:
    """Loss of one stack of frames: embeddings (F, E, H, W), labels (F, H, W) with IGNORE pixels.

    ``background_weight`` adds that multiple of the background's pull term: the clustering finds
    the foreground by its angle to one background direction, so a background that is coherent
    over the whole frame matters more than any single cell.

    ``neighbour_weighting`` says how an instance's push is averaged over its neighbours: over
    their pixels ("pixels"), where the background, a neighbour of every cell and a hundred times
    its size, outweighs a touching cell so far that two touching nuclei may share one direction; or
    over the neighbours themselves ("instances"), each its own mean, so a touching cell counts as
    much as the background.
    """
    instance_ids = np.unique(labels)
    instance_ids = instance_ids[instance_ids != IGNORE]
    if len(instance_ids) < 1:
        return embeddings.sum() * 0
    if len(instance_ids) > max_instances:
        keep_background = instance_ids[instance_ids == 0]
        cells = rng.choice(instance_ids[instance_ids != 0], max_instances - len(keep_background), replace=False)
        instance_ids = np.sort(np.concatenate([keep_background, cells]))
    flat_labels = torch.from_numpy(labels.reshape(-1)).to(embeddings.device)
    pixels = embeddings.permute(1, 0, 2, 3).reshape(embeddings.shape[1], -1).float()
    ids = torch.from_numpy(instance_ids).to(embeddings.device)
    membership = (flat_labels[None, :] == ids[:, None]).float()
    counts = membership.sum(1)
    means = torch.nn.functional.normalize(membership @ pixels.T, dim=1)
    cosine = means @ pixels
    intra = 1 - (membership * cosine).sum(1) / counts
    neighbours = torch.from_numpy(neighbour_matrix(labels, instance_ids, radius)).to(embeddings.device).float()
    squared_per_instance = (cosine**2) @ membership.T
    if neighbour_weighting == "instances":
        inter = (neighbours * squared_per_instance / counts[None, :]).sum(1) / neighbours.sum(1).clamp(min=1)
    else:
        inter_pixels = (neighbours * counts[None, :]).sum(1)
        inter = (neighbours * squared_per_instance).sum(1) / inter_pixels.clamp(min=1)
    loss = (intra + inter).mean()
    if background_weight and instance_ids[0] == 0:
        loss = loss + background_weight * intra[0]
    return loss


def clip_loss(
    embeddings: torch.Tensor,
    labels: np.ndarray,
    radius: float,
    max_instances: int = 32,
    rng: np.random.Generator | None = None,
    background_weight: float = 0.0,
    neighbour_weighting: str = "pixels",
) -> torch.Tensor:
    """Mean pair loss over a clip: embeddings (T, E, H, W), labels (T, H, W); T = 1 uses the frame alone."""
    rng = rng or np.random.default_rng()
    weights = (background_weight, neighbour_weighting)
    if embeddings.shape[0] == 1:
        return pair_loss(embeddings, labels, radius, max_instances, rng, *weights)
    losses = [
        pair_loss(embeddings[t - 1 : t + 1], labels[t - 1 : t + 1], radius, max_instances, rng, *weights)
        for t in range(1, embeddings.shape[0])
    ]
    return torch.stack(losses).mean()
