"""The training objective of a batch of clips: backpropagation through time, loss on both hourglasses.

Kept apart from the training loop so that a machine with only torch, numpy and scipy (a rented
GPU) can import it without the tracker's clustering and I/O dependencies.
"""

from __future__ import annotations

import numpy as np
import torch

from ctc_submit.model.compute import autocast
from ctc_submit.model.network import StackedHourglass
from ctc_submit.training.loss import clip_loss


def forward_clips(network: StackedHourglass, images: torch.Tensor, precision: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Run clips (B, T, 1, H, W) through time, the batch side by side; returns both hourglasses'
    embeddings (B, T, E, H, W)."""
    state = None
    first, second = [], []
    with autocast(images.device, precision):
        for step in range(images.shape[1]):
            a, b, state = network(images[:, step].contiguous(memory_format=torch.channels_last), state)
            first.append(a)
            second.append(b)
    return torch.stack(first, 1).float(), torch.stack(second, 1).float()


def clips_objective(
    network: StackedHourglass,
    images: torch.Tensor,
    labels: np.ndarray,
    radius: float,
    max_instances: int,
    background_weight: float,
    precision: str,
    rng: np.random.Generator,
    neighbour_weighting: str = "pixels",
) -> torch.Tensor:
    """Mean over the clips of the loss on both hourglasses (the first one must learn embeddings
    worth feeding the second); labels (B, T, H, W)."""
    first, second = forward_clips(network, images, precision)
    losses = [
        clip_loss(embeddings[clip], labels[clip], radius, max_instances, rng, background_weight, neighbour_weighting)
        for clip in range(len(labels))
        for embeddings in (first, second)
    ]
    return torch.stack(losses).view(len(labels), 2).sum(1).mean()
