"""Training clips read straight from a CTC training folder.

Instance IDs must stay the same through a clip, because the loss ties each cell's embedding
across consecutive frames. Segmentations (gold SEG where it exists, else silver truth ST) give
dense masks but per-frame IDs; the tracking markers (TRA) give the IDs. A gold segmentation may
cover only some cells (GOWT1's covers 1-3 of its 23 nuclei in most frames, MSC's 2 of 8-11 in
some): where a marked cell has no segment, the frame is partial: that cell keeps its marker, and
its surroundings, as far as that cell reaches from its marker in the nearest frames where it is
segmented (:class:`CellReach`), are unknown rather than background, so that no cell is taught as
background (a complete silver truth of the frame is taken instead where it misses fewer: DIC-HeLa's
frame 67, 1 cell against 15). Frames with markers alone are labelled the same way, and teach
background beyond every cell's reach: GOWT1's nuclei reach 10-64 pixels from their markers, most of
MSC's cells 17-272 (one 643).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, cast

import numpy as np
from scipy import ndimage

from ctc_submit.io import CTCInputError, list_frames, read_frame, read_labels
from ctc_submit.normalize import network_grid, scaled_at_frame_size
from ctc_submit.presets import Preset
from ctc_submit.training.augment import OutputGrid, augment_clip
from ctc_submit.training.loss import IGNORE
from ctc_submit.training.ranges import AugmentationRanges

UNTRACKED_ID_BASE = 1_000_000


def ids_from_markers(segmentation: np.ndarray, markers: np.ndarray) -> np.ndarray:
    """Relabel each segment with the marker it overlaps most; segments with no marker get fresh IDs."""
    relabelled = np.zeros(segmentation.shape, dtype=np.int64)
    segment_ids = np.unique(segmentation)
    for segment in segment_ids[segment_ids != 0]:
        inside = segmentation == segment
        marker_values, counts = np.unique(markers[inside], return_counts=True)
        counts = counts[marker_values != 0]
        marker_values = marker_values[marker_values != 0]
        relabelled[inside] = marker_values[np.argmax(counts)] if len(counts) else UNTRACKED_ID_BASE + int(segment)
    return relabelled


def markers_only(markers: np.ndarray) -> np.ndarray:
    labels = markers.astype(np.int64)
    labels[labels == 0] = IGNORE
    return labels


def unsegmented_cells(segmentation: np.ndarray, markers: np.ndarray) -> np.ndarray:
    """The marker pixels of the cells ``segmentation`` has no segment for."""
    return (markers > 0) & ~np.isin(markers, markers[segmentation > 0])


def labels_of_frame(
    segmentation: np.ndarray | None, markers: np.ndarray, reach: Mapping[int, float] | float = math.inf
) -> np.ndarray:
    """One frame's labels: its segments under their markers' IDs and its background, except within
    ``reach`` pixels (one for all, or per cell ID: see :class:`CellReach`) of a marked cell it has no
    segment for, which keeps its marker in unknown surroundings; without a segmentation, the markers alone."""
    if segmentation is None:
        labels = markers_only(markers)
        unknown_from = markers > 0
    else:
        labels = ids_from_markers(segmentation, markers)
        unknown_from = unsegmented_cells(segmentation, markers)
        if not unknown_from.any():
            return labels
        labels[unknown_from] = markers[unknown_from]
    near = np.zeros(markers.shape, dtype=bool)
    for cell, box in enumerate(ndimage.find_objects(np.where(unknown_from, markers, 0)), start=1):
        if box is None:
            continue
        distance = reach.get(cell, math.inf) if isinstance(reach, Mapping) else reach
        if not math.isfinite(distance):
            near[:] = True
            break
        margin = int(math.ceil(distance)) + 1
        window = tuple(
            slice(max(0, axis.start - margin), min(size, axis.stop + margin)) for axis, size in zip(box, markers.shape)
        )
        near[window] |= ndimage.distance_transform_edt(markers[window] != cell) <= distance
    labels[(labels == 0) & near] = IGNORE
    labels[(labels == IGNORE) & ~near] = 0
    return labels


def _reach_of(segmentation: np.ndarray, marker: np.ndarray) -> float:
    """The farthest pixel, from ``marker``, of the segment that covers most of it."""
    segment = segmentation == np.bincount(segmentation[marker & (segmentation > 0)]).argmax()
    return float(ndimage.distance_transform_edt(~marker)[segment].max())


@dataclass
class CellReach:
    """How far each marked cell extends from its marker, measured in the frames where it is segmented.

    In a frame where a cell has no segment, its reach is the larger of those measured in the nearest
    segmented frames before and after it (a cell between them grows or shrinks from one to the other);
    a cell never segmented takes the largest median reach of any cell. One number for all would be
    the largest reach of any cell in any frame: 803 pixels in Fluo-C2DL-MSC 01, whose cells' median
    reach is 59, so that every frame with markers alone would be unknown almost everywhere.
    """

    measured: dict[int, list[tuple[int, float]]]  # cell -> (frame, reach), by frame

    @classmethod
    def of(cls, truths: Iterable[tuple[np.ndarray | None, np.ndarray]]) -> "CellReach":
        """From (segmentation or None, markers) per frame, in frame order."""
        measured: dict[int, list[tuple[int, float]]] = {}
        for index, (segmentation, markers) in enumerate(truths):
            if segmentation is None:
                continue
            for cell in np.unique(markers[(markers > 0) & (segmentation > 0)]):
                measured.setdefault(int(cell), []).append((index, _reach_of(segmentation, markers == cell)))
        return cls(measured)

    @property
    def fallback(self) -> float:
        medians = [float(np.median([reach for _, reach in frames])) for frames in self.measured.values()]
        return max(medians, default=math.inf)

    def at(self, frame: int, cells: Iterable[int]) -> dict[int, float]:
        """The reach of each of ``cells`` in ``frame``."""
        result = {}
        for cell in cells:
            frames = self.measured.get(int(cell))
            if not frames:
                result[int(cell)] = self.fallback
                continue
            before = [reach for index, reach in frames if index <= frame]
            after = [reach for index, reach in frames if index >= frame]
            result[int(cell)] = max(before[-1:] + after[:1])
        return result


def segmentation_paths(dataset_dir: Path, sequence: str, name: str) -> list[Path]:
    """The frame's gold segmentation, then its silver truth: those that exist."""
    paths = [dataset_dir / folder / "SEG" / name for folder in (f"{sequence}_GT", f"{sequence}_ST")]
    return [path for path in paths if path.is_file()]


def load_training_labels(dataset_dir: Path, sequence: str, frame_count: int, digits: int) -> np.ndarray:
    """Labels (T, H, W) with IDs consistent over time and IGNORE where the truth is unknown. A frame
    takes its gold segmentation, or its silver truth where that one misses fewer marked cells."""

    def truth(index: int) -> tuple[np.ndarray | None, np.ndarray]:
        markers = read_labels(dataset_dir / f"{sequence}_GT" / "TRA" / f"man_track{index:0{digits}d}.tif")
        paths = segmentation_paths(dataset_dir, sequence, f"man_seg{index:0{digits}d}.tif")
        segmentations = [read_labels(path) for path in paths]
        if not segmentations:
            return None, markers
        missed = [len(np.unique(markers[unsegmented_cells(segmentation, markers)])) for segmentation in segmentations]
        return segmentations[missed.index(min(missed))], markers

    truths = [truth(index) for index in range(frame_count)]
    reach = CellReach.of(truths)
    return np.stack(
        [
            labels_of_frame(segmentation, markers, reach.at(index, np.unique(markers[markers > 0])))
            for index, (segmentation, markers) in enumerate(truths)
        ]
    )


@dataclass
class TrainingSequence:
    """One annotated sequence held in memory: normalised frames and consistent labels."""

    images: np.ndarray
    labels: np.ndarray

    @classmethod
    def load(
        cls,
        dataset_dir: Path,
        sequence: str,
        preset: Preset,
        limit: int | None = None,
    ) -> "TrainingSequence":
        """Load the sequence (its first ``limit`` frames when given), normalised as ``preset`` says."""
        dataset_dir = Path(dataset_dir)
        frames = list_frames(dataset_dir / sequence)[:limit]
        digits = len(frames[0].stem) - 1
        if not (dataset_dir / f"{sequence}_GT" / "TRA").is_dir():
            raise CTCInputError(f"{dataset_dir / (sequence + '_GT') / 'TRA'}: tracking ground truth not found")
        images = np.stack([scaled_at_frame_size(read_frame(path), preset) for path in frames])
        return cls(images, load_training_labels(dataset_dir, sequence, len(frames), digits))

    def __len__(self) -> int:
        return len(self.images)

    def part(self, frames: range) -> "TrainingSequence":
        """The frames ``frames`` (a run of consecutive frames) as a sequence of their own."""
        return TrainingSequence(self.images[frames.start : frames.stop], self.labels[frames.start : frames.stop])


def sample_clip(
    sequences: list[TrainingSequence],
    clip_length: int,
    network_scale: float,
    crop_size: tuple[int, int],
    ranges: AugmentationRanges,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """A random augmented clip: images (T, h, w) float32 and labels (T, h, w) int64, a crop of the
    network grid the tracker processes the sequence's frames on (:func:`network_grid` of
    ``network_scale``), so the network learns cells at the size it will see them.

    Every clip of every sequence is equally likely: a sequence is drawn in proportion to the
    clips it holds, so a short run of frames is not over-sampled.
    """
    starts = np.array([len(sequence) - clip_length + 1 for sequence in sequences])
    if starts.max(initial=0) < 1:
        raise CTCInputError(f"clips of {clip_length} frames: longer than every training sequence")
    starts = np.clip(starts, 0, None)
    sequence = sequences[rng.choice(len(sequences), p=starts / starts.sum())]
    start = rng.integers(0, len(sequence) - clip_length + 1)
    network_size = network_grid(sequence.images.shape[1:], network_scale)
    offset = cast(
        tuple[int, int], tuple(int(rng.integers(0, full - crop + 1)) for full, crop in zip(network_size, crop_size))
    )
    grid = OutputGrid(network_size, crop_size, offset)
    return augment_clip(
        sequence.images[start : start + clip_length], sequence.labels[start : start + clip_length], grid, ranges, rng
    )
