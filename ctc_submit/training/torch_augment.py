"""The augmentation of :mod:`augment` in torch, on the device that trains, for a batch of clips.

A GPU machine may lack SimpleITK, and on a GPU the resampling costs nothing next to the network
when done there. The same random ranges apply (:class:`AugmentationRanges`): one transform per
clip (translation, flip, rotation, scale, a smooth elastic displacement), identical for all its
frames, followed by an intensity gain and shift. Images are resampled bilinearly with mirrored
borders, labels by nearest neighbour with IGNORE where a point falls outside the frame.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
import torch.nn.functional as F

from ctc_submit.normalize import network_grid
from ctc_submit.training.loss import IGNORE
from ctc_submit.training.ranges import AugmentationRanges


def sampling_grid(
    input_shape: tuple[int, int],
    network_size: tuple[int, int],
    crop_size: tuple[int, int],
    ranges: AugmentationRanges,
    rng: np.random.Generator,
    device: torch.device,
) -> torch.Tensor:
    """grid_sample coordinates (1, h, w, 2) of one random crop of the network grid, in the input frame."""
    height, width = input_shape
    to_input = np.array([width / network_size[1], height / network_size[0]])
    offset = [int(rng.integers(0, full - crop + 1)) for full, crop in zip(network_size, crop_size)]
    rows = torch.arange(crop_size[0], dtype=torch.float64) + offset[0]
    cols = torch.arange(crop_size[1], dtype=torch.float64) + offset[1]
    y, x = torch.meshgrid(rows, cols, indexing="ij")
    points = torch.stack([(x + 0.5) * to_input[0] - 0.5, (y + 0.5) * to_input[1] - 0.5], -1)  # (h, w, 2) as (x, y)
    if ranges.elastic_displacement > 0:
        size = ranges.elastic_grid + 1
        knots = rng.uniform(-ranges.elastic_displacement, ranges.elastic_displacement, (1, 2, size, size))
        field = F.interpolate(torch.from_numpy(knots), size=crop_size, mode="bicubic", align_corners=True)[0]
        points = points + field.permute(1, 2, 0) * torch.from_numpy(to_input)
    angle = rng.uniform(-ranges.rotation, ranges.rotation)
    scale = rng.uniform(*ranges.scale)
    flip = -1.0 if rng.random() < ranges.flip_probability else 1.0
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = torch.from_numpy(rotation @ np.diag([flip, 1.0]) / scale)
    centre = torch.tensor([(width - 1) / 2, (height - 1) / 2], dtype=torch.float64)
    shift = torch.from_numpy(rng.uniform(-ranges.translation, ranges.translation, 2) * to_input)
    points = (points - centre) @ matrix.T + centre + shift
    normalised = (points + 0.5) / torch.tensor([width, height], dtype=torch.float64) * 2 - 1
    return normalised[None].float().to(device)


def augment_clips(
    images: list[torch.Tensor],
    labels: list[torch.Tensor],
    network_scale: float,
    crop_size: tuple[int, int],
    ranges: AugmentationRanges,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips of images and labels (each (T, H, W), on the training device) -> (B, T, 1, h, w) images,
    (B, T, h, w) labels: crops of the network grid of ``network_scale`` (:func:`network_grid`)."""
    out_images, out_labels = [], []
    for clip_images, clip_labels in zip(images, labels):
        shape = cast(tuple[int, int], tuple(clip_images.shape[1:]))
        grid = sampling_grid(shape, network_grid(shape, network_scale), crop_size, ranges, rng, clip_images.device)
        grid = grid.expand(len(clip_images), -1, -1, -1)
        resampled = F.grid_sample(
            clip_images[:, None].float(), grid, mode="bilinear", padding_mode="reflection", align_corners=False
        )
        gain, shift = rng.uniform(*ranges.intensity_scale), rng.uniform(-ranges.intensity_shift, ranges.intensity_shift)
        out_images.append(resampled * gain + shift)
        marked = clip_labels[:, None].float() + 1  # 0 after sampling means outside the frame
        sampled = F.grid_sample(marked, grid, mode="nearest", padding_mode="zeros", align_corners=False)[:, 0]
        out_labels.append(torch.where(sampled > 0, sampled.round().long() - 1, torch.full_like(sampled, IGNORE).long()))
    return torch.stack(out_images), torch.stack(out_labels)
