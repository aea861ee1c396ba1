"""Small challenge layouts for end-to-end tests: the first frames of a real sequence and its GT, a tiny model."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from ctc_submit.io import Track, read_tracks, write_tracks
from ctc_submit.model.inference import save_model
from ctc_submit.model.network import NetworkConfig, StackedHourglass


def copy_first_frames(source_dataset: Path, dataset: Path, sequence: str, count: int, with_gt: bool = True) -> Path:
    """``dataset/SEQ`` with the first ``count`` frames and, optionally, ``SEQ_GT`` (TRA, SEG) cut to them."""
    images = dataset / sequence
    images.mkdir(parents=True)
    for index in range(count):
        shutil.copy(source_dataset / sequence / f"t{index:03d}.tif", images)
    if with_gt:
        gt = source_dataset / f"{sequence}_GT"
        (dataset / f"{sequence}_GT" / "TRA").mkdir(parents=True)
        (dataset / f"{sequence}_GT" / "SEG").mkdir()
        for index in range(count):
            shutil.copy(gt / "TRA" / f"man_track{index:03d}.tif", dataset / f"{sequence}_GT" / "TRA")
            if (gt / "SEG" / f"man_seg{index:03d}.tif").is_file():
                shutil.copy(gt / "SEG" / f"man_seg{index:03d}.tif", dataset / f"{sequence}_GT" / "SEG")
        tracks = [
            Track(track.label, track.begin, min(track.end, count - 1), track.parent)
            for track in read_tracks(gt / "TRA" / "man_track.txt")
            if track.begin < count
        ]
        write_tracks(dataset / f"{sequence}_GT" / "TRA" / "man_track.txt", tracks)
    return images


def save_tiny_model(path: Path, dataset: str, **card) -> Path:
    """A randomly initialised network small enough to run a few frames in a second."""
    torch.manual_seed(0)
    save_model(path, StackedHourglass(NetworkConfig(filters=4, levels=3)), {"dataset": dataset, **card})
    return path
