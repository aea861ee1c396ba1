"""The GPU route, run on the CPU: a training pack, torch augmentation, a timed run on a machine without SimpleITK."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import torch

from ctc_submit.model.inference import load_model
from ctc_submit.normalize import resize_linear
from ctc_submit.presets import get_preset
from ctc_submit.training.pack import load_pack, pack_training
from ctc_submit.training.ranges import NO_AUGMENTATION, AugmentationRanges
from ctc_submit.training.torch_augment import augment_clips
from ctc_submit.training.validation import HeldOutBlock

DEVICE_LIKE = """
import sys
for name in ("SimpleITK", "hdbscan", "imagecodecs"):
    sys.modules[name] = None  # as on the GPU machine: importing them fails
from ctc_submit.training.accelerated import main
main(sys.argv[1:])
"""


def test_without_augmentation_the_torch_resampling_is_the_resize_to_the_network_grid():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(2, 40, 60)).astype(np.float32)
    labels = np.repeat(np.arange(60)[None, None] // 10, 40, axis=1).repeat(2, axis=0)
    images, sampled = augment_clips(
        [torch.from_numpy(image)], [torch.from_numpy(labels)], 0.0, (256, 256), NO_AUGMENTATION, rng
    )
    assert images.shape == (1, 2, 1, 256, 256) and sampled.shape == (1, 2, 256, 256)
    np.testing.assert_allclose(images[0, 0, 0].numpy(), resize_linear(image[0], (256, 256)), atol=1e-4)
    assert set(np.unique(sampled.numpy())) <= set(range(6))


def test_the_torch_crops_are_cut_from_the_frame_at_the_presets_scale():
    rng = np.random.default_rng(3)
    image = rng.normal(size=(1, 690, 628)).astype(np.float32)
    labels = np.zeros((1, 690, 628), np.int64)
    images, _ = augment_clips(
        [torch.from_numpy(image)], [torch.from_numpy(labels)], 0.75, (518, 471), NO_AUGMENTATION, rng
    )
    np.testing.assert_allclose(
        images[0, 0, 0].numpy(), resize_linear(image[0], (518, 471)), atol=1e-3
    )  # float32 sampling coordinates
    crops, _ = augment_clips(
        [torch.from_numpy(image)], [torch.from_numpy(labels)], 0.75, (256, 256), NO_AUGMENTATION, rng
    )
    assert crops.shape == (1, 1, 1, 256, 256)


def test_augmented_labels_keep_their_ids_and_mark_the_outside_unknown():
    rng = np.random.default_rng(1)
    labels = np.zeros((3, 64, 64), np.int64)
    labels[:, 10:30, 10:30], labels[:, 40:60, 35:55], labels[:, :5] = 7, 1_000_003, -1
    images, sampled = augment_clips(
        [torch.zeros(3, 64, 64)] * 4, [torch.from_numpy(labels)] * 4, 0.0, (16, 16), AugmentationRanges(), rng
    )  # fmt: skip
    assert images.shape == (4, 3, 1, 16, 16)
    assert set(np.unique(sampled.numpy())) <= {-1, 0, 7, 1_000_003}
    for clip in sampled:  # one transform per clip: every frame of a clip is sampled alike
        assert (clip == clip[0]).all()


def test_a_pack_holds_the_training_runs_without_the_held_out_block(ctc_data, tmp_path):
    preset = get_preset("DIC-C2DH-HeLa")
    description = pack_training(ctc_data / "DIC-C2DH-HeLa", ["01"], HeldOutBlock(21, 40), preset, tmp_path / "p.npz")
    runs, loaded = load_pack(tmp_path / "p.npz")
    assert loaded == description and description["runs"] == ["01: 0-18", "01: 43-83"]
    assert [len(images) for images, _ in runs] == [19, 41]
    assert runs[0][0].dtype == np.float32 and runs[0][1].dtype == np.int64 and runs[0][0].shape == (19, 512, 512)


def test_the_accelerated_run_trains_for_its_time_without_simpleitk_and_writes_a_model(tmp_path):
    rng = np.random.default_rng(2)
    labels = np.zeros((6, 64, 64), np.int32)
    labels[:, 8:30, 8:30], labels[:, 34:60, 30:60] = 1, 2
    images = (labels > 0).astype(np.float16) + rng.normal(0, 0.1, labels.shape).astype(np.float16)
    description = {"dataset": "DIC-C2DH-HeLa", "runs": ["01: 0-5"], "held_out": "none"}
    np.savez_compressed(tmp_path / "pack.npz", description=json.dumps(description), images_0=images, labels_0=labels)
    out = tmp_path / "gpu.pt"
    arguments = [str(tmp_path / "pack.npz"), str(out), "--minutes", "0.1", "--filters", "4", "--levels", "3",
                 "--batch", "2", "--clip-length", "3", "--crop-size", "32", "--device", "cpu"]  # fmt: skip
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    completed = subprocess.run(
        [sys.executable, "-c", DEVICE_LIKE, *arguments], capture_output=True, text=True, env=environment
    )
    assert completed.returncode == 0, completed.stderr
    network, card = load_model(out, "cpu")
    assert card["iterations_done"] >= 1 and card["training"]["batch"] == 2
    # Within its 6 s, or, on a machine so loaded that one iteration overran them, stopped right after it.
    assert card["wall_time_s"] < 6 or card["iterations_done"] == 1
    assert out.with_name("gpu_loss.csv").read_text().startswith("iteration,train_loss,seconds")
