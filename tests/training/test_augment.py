import numpy as np

from ctc_submit.io import read_labels
from ctc_submit.training.augment import OutputGrid, augment_clip
from ctc_submit.training.loss import IGNORE
from ctc_submit.training.ranges import NO_AUGMENTATION, AugmentationRanges


def test_identity_grid_is_a_plain_downsampling():
    image = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
    labels = (image // 512).astype(np.int64)
    grid = OutputGrid((32, 32), (32, 32), (0, 0))
    out_image, out_labels = augment_clip(image[None], labels[None], grid, NO_AUGMENTATION, np.random.default_rng(0))
    assert out_image.shape == out_labels.shape == (1, 32, 32)
    np.testing.assert_array_equal(out_labels[0], labels[1::2, 1::2])


def test_random_warps_keep_labels_aligned_with_the_image(ctc_data):
    """Warp a real label image and an image made from it with one transform: they must still coincide."""
    labels = read_labels(ctc_data / "DIC-C2DH-HeLa" / "01_ST" / "SEG" / "man_seg010.tif").astype(np.int64)
    image = (labels > 0).astype(np.float32)
    rng = np.random.default_rng(3)
    ranges = AugmentationRanges(intensity_shift=0.0, intensity_scale=(1.0, 1.0))
    for _ in range(5):
        grid = OutputGrid((256, 256), (128, 128), tuple(rng.integers(0, 129, 2)))
        warped_image, warped_labels = augment_clip(np.stack([image] * 2), np.stack([labels] * 2), grid, ranges, rng)
        valid = warped_labels[0] != IGNORE
        foreground_image = warped_image[0][valid] > 0.5
        foreground_labels = warped_labels[0][valid] > 0
        agreement = (foreground_image == foreground_labels).mean()
        assert agreement > 0.97
        np.testing.assert_array_equal(warped_labels[0], warped_labels[1])


def test_outside_the_image_is_ignored():
    labels = np.ones((1, 64, 64), dtype=np.int64)
    ranges = AugmentationRanges(translation=0.0, rotation=0.0, scale=(0.5, 0.5), elastic_displacement=0.0)
    _, warped = augment_clip(
        np.zeros((1, 64, 64), np.float32),
        labels,
        OutputGrid((64, 64), (64, 64), (0, 0)),
        ranges,
        np.random.default_rng(0),
    )
    assert (warped == IGNORE).any() and (warped == 1).any()
