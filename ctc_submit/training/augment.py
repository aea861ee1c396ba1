"""On-the-fly augmentation of training clips with SimpleITK.

One random spatial transform per clip (translation, flip, rotation, scale, elastic B-spline)
is applied identically to every frame, so the cells' motion through the clip is preserved.
The resampling also performs the resize to the network grid and the random crop, so each
frame is interpolated once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from ctc_submit.training.loss import IGNORE
from ctc_submit.training.ranges import AugmentationRanges


@dataclass(frozen=True)
class OutputGrid:
    """Where the network grid lies on the input image: a (possibly cropped) network-size raster."""

    network_size: tuple[int, int]
    crop_size: tuple[int, int]
    crop_offset: tuple[int, int]

    def reference(self, input_shape: tuple[int, int]) -> sitk.Image:
        """A reference image whose physical points are those of the crop (x = column, y = row)."""
        spacing = (input_shape[1] / self.network_size[1], input_shape[0] / self.network_size[0])
        reference = sitk.Image(self.crop_size[1], self.crop_size[0], sitk.sitkFloat32)
        reference.SetSpacing(spacing)
        reference.SetOrigin(tuple((offset + 0.5) * step - 0.5 for offset, step in zip(self.crop_offset[::-1], spacing)))
        return reference


def random_transform(
    input_shape: tuple[int, int], network_size: tuple[int, int], ranges: AugmentationRanges, rng: np.random.Generator
) -> sitk.Transform:
    """Maps network-grid points to input points; displacements are given in network-grid pixels."""
    height, width = input_shape
    to_input = np.array([width / network_size[1], height / network_size[0]])
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    angle = rng.uniform(-ranges.rotation, ranges.rotation)
    scale = rng.uniform(*ranges.scale)
    flip = -1.0 if rng.random() < ranges.flip_probability else 1.0
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = rotation @ np.diag([flip, 1.0]) / scale
    affine = sitk.AffineTransform(2)
    affine.SetCenter(tuple(centre))
    affine.SetMatrix(tuple(matrix.ravel()))
    affine.SetTranslation(tuple(rng.uniform(-ranges.translation, ranges.translation, 2) * to_input))
    composite = sitk.CompositeTransform(2)
    composite.AddTransform(affine)
    if ranges.elastic_displacement > 0:
        domain = sitk.Image(width, height, sitk.sitkFloat32)
        elastic = sitk.BSplineTransformInitializer(domain, [ranges.elastic_grid] * 2, order=3)
        count = len(elastic.GetParameters()) // 2
        displacement = rng.uniform(-ranges.elastic_displacement, ranges.elastic_displacement, (2, count))
        elastic.SetParameters(tuple((displacement * to_input[:, None]).ravel()))
        composite.AddTransform(elastic)
    return composite


def mirror_padded(image: np.ndarray, padding: int) -> sitk.Image:
    """Image mirrored beyond its border, placed so index (0, 0) of the original stays at the origin."""
    padded = sitk.GetImageFromArray(np.pad(image, padding, mode="reflect"))
    padded.SetOrigin((-float(padding), -float(padding)))
    return padded


def resample_image(image: np.ndarray, transform: sitk.Transform, reference: sitk.Image) -> np.ndarray:
    padding = max(image.shape) // 2
    resampled = sitk.Resample(
        mirror_padded(image.astype(np.float32), padding), reference, transform, sitk.sitkLinear, 0.0
    )
    return sitk.GetArrayFromImage(resampled)


def resample_labels(labels: np.ndarray, transform: sitk.Transform, reference: sitk.Image) -> np.ndarray:
    """Nearest-neighbour labels; points that fall outside the original image become IGNORE."""
    resampled = sitk.Resample(
        sitk.GetImageFromArray(labels.astype(np.int32)), reference, transform, sitk.sitkNearestNeighbor, IGNORE
    )
    return sitk.GetArrayFromImage(resampled).astype(np.int64)


def augment_clip(
    images: np.ndarray,
    labels: np.ndarray,
    grid: OutputGrid,
    ranges: AugmentationRanges,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Images (T, H, W) already scaled to [-1, 1] and labels (T, H, W) -> the same clip on the crop grid."""
    input_shape = images.shape[1:]
    transform = random_transform(input_shape, grid.network_size, ranges, rng)
    reference = grid.reference(input_shape)
    out_images = np.stack([resample_image(frame, transform, reference) for frame in images])
    out_labels = np.stack([resample_labels(frame, transform, reference) for frame in labels])
    gain = rng.uniform(*ranges.intensity_scale)
    shift = rng.uniform(-ranges.intensity_shift, ranges.intensity_shift)
    return out_images * gain + shift, out_labels
