"""Check a CTC result folder (``maskNNN.tif`` + ``res_track.txt``) against the official rules.

A result the official TRAMeasure rejects scores nothing, and its messages name neither the
frame nor the reason. This module applies the same rules, says which one failed, where
(frame, label) and why, and separates hard errors (the official tool rejects the result)
from warnings (accepted, but probably not what was meant). Frames are read one at a time,
so a long sequence never has to fit in memory.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
from scipy import ndimage

from ctc_submit.io import (
    MAN_TRACK_NAME,
    READABLE_COMPRESSIONS,
    CTCInputError,
    TiffLayout,
    Track,
    list_indexed_files,
    mask_name,
    read_labels,
    read_tracks,
    tiff_layout,
)

TRACK_FILE = "res_track.txt"
MAX_LABEL = int(np.iinfo(np.uint16).max)
MIN_DIGITS = 3
DAUGHTER_DISTANCE = 2  # pixels: a daughter this close to her mother's last mask counts as overlapping it


@dataclass
class ValidationReport:
    """Errors (the official tools reject the result) and warnings (accepted, but suspicious)."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class SequenceFrames:
    """The frames a result must cover, the digit count of its names and the GT files, if any."""

    frames: list[int]
    digits: int
    gt_files: dict[int, Path]


def frame_ranges(frames: Iterable[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2, 5"``: long frame lists stay one readable line."""
    runs: list[list[int]] = []
    for frame in sorted(frames):
        if runs and frame == runs[-1][1] + 1:
            runs[-1][1] = frame
        else:
            runs.append([frame, frame])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def where(frames: Iterable[int] = (), label: int | None = None, files: Iterable[str] = ()) -> str:
    """The ``frame 12, label 5: `` prefix that says where a problem is."""
    frames = sorted(frames)
    files = sorted(files)
    parts = []
    if frames:
        parts.append(("frame " if len(frames) == 1 else "frames ") + frame_ranges(frames))
    if files:
        parts[-1:] = [f"{parts[-1]} ({files[0]})" if len(files) == 1 else f"{parts[-1]} ({files[0]} ... {files[-1]})"]
    if label is not None:
        parts.append(f"label {label}")
    return ", ".join(parts) + ": " if parts else ""


def describe_shape(shape: tuple[int, ...]) -> str:
    size = "\u00d7".join(map(str, shape))
    return size if len(shape) == 2 else f"{size} (3D, {shape[0]} pages)"


def frame_span(begin: int, end: int) -> str:
    return f"frame {begin}" if begin == end else f"frames {begin}-{end}"


def name_list(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def _match(pattern: re.Pattern[str], name: str) -> re.Match[str]:
    """The match of a name that :func:`list_indexed_files` already matched."""
    match = pattern.match(name)
    assert match is not None
    return match


def gt_sequence(gt_dir: Path, num_digits: int | None) -> SequenceFrames:
    """Frames and digit count from the GT tracking markers (``SEQ_GT`` or ``SEQ_GT/TRA``)."""
    gt_dir = Path(gt_dir)
    if not gt_dir.is_dir():
        raise CTCInputError(f"{gt_dir}: folder not found")
    tra_dir = gt_dir / "TRA" if (gt_dir / "TRA").is_dir() else gt_dir
    files = list_indexed_files(tra_dir, MAN_TRACK_NAME)
    if not files:
        raise CTCInputError(f"{tra_dir}: no GT markers named man_trackNNN.tif")
    widths = {len(_match(MAN_TRACK_NAME, path.name).group(1)) for _, path in files}
    if len(widths) > 1:
        raise CTCInputError(f"{tra_dir}: GT names mix {' and '.join(map(str, sorted(widths)))} digits")
    (width,) = widths
    if num_digits is not None and num_digits != width:
        raise CTCInputError(f"{tra_dir}: GT names have {width} digits, not {num_digits} as requested")
    return SequenceFrames([index for index, _ in files], width, dict(files))


def mask_files(res_dir: Path) -> list[tuple[int, Path]]:
    """Every ``maskN...N.tif``/``.tiff`` in the folder, whatever its digit count."""
    return [(int(path.stem[4:]), path) for path in res_dir.iterdir() if _looks_like_mask(path.name)]


def _looks_like_mask(name: str) -> bool:
    stem, dot, extension = name.rpartition(".")
    index = stem[4:]
    return (
        bool(dot) and extension in ("tif", "tiff") and stem.startswith("mask") and index.isdigit() and index.isascii()
    )


def result_sequence(
    masks: list[tuple[int, Path]], num_digits: int | None, report: ValidationReport
) -> SequenceFrames | None:
    """Frames 0..last of the masks when there is no GT; the digit count is the most common one."""
    if num_digits is None:
        widths = Counter(len(path.stem) - 4 for _, path in masks if path.suffix == ".tif")
        if not widths:
            report.errors.append("no masks named maskNNN.tif")
            return None
        num_digits = max(widths, key=lambda width: (widths[width], -width))
    if num_digits < MIN_DIGITS:
        report.errors.append(
            f"mask names have {num_digits} digits; the CTC names need at least {MIN_DIGITS} (mask000.tif)"
        )
        return None
    indices = [index for index, path in masks if path.name == mask_name(index, num_digits)]
    if not indices:
        found = sorted(path.name for _, path in masks)
        report.errors.append(
            f"no masks named with {num_digits} digits ({mask_name(0, num_digits)})"
            + (f"; found {name_list(found)}" if found else "")
        )
        return None
    return SequenceFrames(list(range(max(indices) + 1)), num_digits, {})


def layout_problems(layout: TiffLayout, expected: tuple[int, ...], reference: str) -> tuple[list[str], bool]:
    """Why the official tools would reject this mask (frame-independent texts), and whether its labels are usable."""
    problems = []
    usable = True
    if layout.samples != 1:
        problems.append(f"{layout.samples} samples per pixel (RGB?); masks must be single-channel grayscale")
        usable = False
    if layout.dtype != np.uint16:
        problems.append(f"pixel type {layout.dtype}; the official tools read only uint16 masks")
        usable = usable and layout.dtype.kind in "ui"
    if layout.compression not in READABLE_COMPRESSIONS:
        problems.append(
            f"{layout.compression} compression, which the official tools cannot decode; "
            "write zlib (deflate), LZW, packbits or no compression"
        )
    if layout.shape != expected:
        problems.append(f"size {describe_shape(layout.shape)}, expected {describe_shape(expected)} as {reference}")
        usable = False
    return problems, usable


def labels_present(mask: np.ndarray) -> np.ndarray:
    values = np.flatnonzero(np.bincount(mask.ravel())) if mask.dtype == np.uint16 else np.unique(mask)
    return values[values != 0]


def connected_pieces(region: np.ndarray) -> tuple[np.ndarray, int]:
    """The connected pieces of a boolean region, as one cell must be one: 8-connectivity in 2D, 26 in 3D."""
    return ndimage.label(region, structure=np.ones((3,) * region.ndim, dtype=bool))


def disconnected_labels(mask: np.ndarray, labels: np.ndarray) -> list[int]:
    """Labels made of more than one connected region (see :func:`connected_pieces`)."""
    boxes = ndimage.find_objects(mask)
    split = []
    for label in labels:
        box = boxes[int(label) - 1]
        _, pieces = connected_pieces(mask[box] == label)
        if pieces > 1:
            split.append(int(label))
    return split


def check_track_table(tracks: list[Track], report: ValidationReport) -> dict[int, Track]:
    """Rules on res_track.txt alone; returns the well-formed tracks by label (those the masks are checked against)."""
    counts = Counter(track.label for track in tracks)
    for label, count in sorted(counts.items()):
        if count > 1:
            report.errors.append(
                f"label {label}: declared {count} times in {TRACK_FILE}; labels must be unique "
                "(a cell that reappears after a gap needs a new label with the old one as parent)"
            )
    unique = {track.label: track for track in tracks if counts[track.label] == 1}
    valid = {}
    for label, track in sorted(unique.items()):
        problems = []
        if not 1 <= label <= MAX_LABEL:
            problems.append(f"labels must be between 1 and {MAX_LABEL} (uint16 masks)")
        if track.begin < 0:
            problems.append(f"begins at frame {track.begin}; frames start at 0")
        if track.end < track.begin:
            problems.append(f"ends (frame {track.end}) before it begins (frame {track.begin})")
        if track.parent < 0:
            problems.append(f"parent {track.parent} is negative; 0 means no parent")
        elif track.parent == label:
            problems.append("is its own parent")
        elif track.parent and track.parent not in counts:
            problems.append(f"parent {track.parent} is not a label of {TRACK_FILE}")
        elif track.parent and track.parent in unique and unique[track.parent].end >= track.begin:
            problems.append(
                f"parent {track.parent} ends at frame {unique[track.parent].end}, not before this track begins "
                f"(frame {track.begin}): a parent must end before its daughters begin"
            )
        report.errors.extend(f"label {label}: {problem}" for problem in problems)
        if not problems:
            valid[label] = track
    return valid


def check_consistency(
    tracks: dict[int, Track],
    all_declared: set[int],
    presence: dict[int, list[int]],
    sequence: SequenceFrames,
    checked: set[int],
    report: ValidationReport,
) -> None:
    """Each declared label in every frame B..E and nowhere else; every label in the masks declared."""
    frames = sequence.frames
    first, last = frames[0], frames[-1]
    sequence_span = frame_span(first, last)
    for label, track in sorted(tracks.items()):
        span = frames[bisect.bisect_left(frames, track.begin) : bisect.bisect_right(frames, track.end)]
        declared = frame_span(track.begin, track.end)
        present = presence.get(label, [])
        if not span:
            report.errors.append(f"label {label}: declared for {declared}, outside the sequence ({sequence_span})")
            continue
        if track.begin < first or track.end > last:
            report.warnings.append(
                f"label {label}: declared for {declared}, beyond the sequence ({sequence_span}); "
                "the official tools accept it, but the track should end at its last frame"
            )
        present_set = set(present)
        missing = [frame for frame in span if frame in checked and frame not in present_set]
        if missing:
            report.errors.append(
                where(missing, label) + f"missing from the mask, but {TRACK_FILE} declares {declared} "
                "(a track with a gap needs a new label whose parent is the old one)"
            )
        outside = [frame for frame in present if not track.begin <= frame <= track.end]
        if outside:
            report.errors.append(where(outside, label) + f"in the mask outside {declared} declared in {TRACK_FILE}")
    for label, present in sorted(presence.items()):
        if label not in all_declared:
            report.errors.append(where(present, label) + f"in the mask but not declared in {TRACK_FILE}")


def add_grouped(target: list[str], problems: dict[str, list[tuple[int, str]]]) -> None:
    """One line per problem, listing the frames (and first/last file) it occurs in."""
    for problem, occurrences in problems.items():
        frames = [frame for frame, _ in occurrences]
        names = [name for _, name in occurrences]
        target.append(where(frames, files=[names[0], names[-1]] if len(names) > 1 else names) + problem)


@dataclass
class MaskScan:
    """What one pass over the masks found; (frame, file name) pairs say where."""

    presence: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    split: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    checked: set[int] = field(default_factory=set)
    missing: list[tuple[int, str]] = field(default_factory=list)
    empty: list[tuple[int, str]] = field(default_factory=list)
    problems: dict[str, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))


def scan_masks(res_dir: Path, sequence: SequenceFrames) -> MaskScan:
    """Check each frame's mask file and record which labels it holds, one frame in memory at a time."""
    scan = MaskScan()
    reference_shape: tuple[int, ...] | None = None
    reference = "the GT"
    for frame in sequence.frames:
        name = mask_name(frame, sequence.digits)
        path = res_dir / name
        if not path.is_file():
            scan.missing.append((frame, name))
            continue
        try:
            layout = tiff_layout(path)
        except CTCInputError as error:
            scan.problems[str(error).removeprefix(f"{path}: ")].append((frame, name))
            continue
        if sequence.gt_files:
            expected = tiff_layout(sequence.gt_files[frame]).shape
        else:
            if reference_shape is None:
                reference_shape, reference = layout.shape, f"the first mask ({name})"
            expected = reference_shape
        problems, usable = layout_problems(layout, expected, reference)
        for problem in problems:
            scan.problems[problem].append((frame, name))
        if not usable:
            continue
        try:
            mask = read_labels(path)
        except CTCInputError as error:  # a header that reads but pixel data that does not decode
            scan.problems[str(error).removeprefix(f"{path}: ")].append((frame, name))
            continue
        labels = labels_present(mask)
        scan.checked.add(frame)
        if not len(labels):
            scan.empty.append((frame, name))
        for label in labels:
            scan.presence[int(label)].append(frame)
        if mask.dtype == np.uint16:
            for label in disconnected_labels(mask, labels):
                scan.split[label].append(frame)
    return scan


def validate_result(res_dir: Path, gt_dir: Path | None = None, num_digits: int | None = None) -> ValidationReport:
    """Check a result folder against every rule of the official TRAMeasure.

    ``gt_dir`` (``SEQ_GT`` or its ``TRA`` folder) fixes the frames, their size and the digit
    count; without it the frames are 0..last mask and the size that of the first mask.
    Raises :class:`CTCInputError` for unusable arguments (missing folders, GT without markers).
    """
    res_dir = Path(res_dir)
    if not res_dir.is_dir():
        raise CTCInputError(f"{res_dir}: folder not found")
    if num_digits is not None and num_digits < MIN_DIGITS:
        raise CTCInputError(f"digit count of the mask names must be at least {MIN_DIGITS}, got {num_digits}", "num_digits")
    report = ValidationReport()
    masks = mask_files(res_dir)
    if gt_dir is not None:
        sequence: SequenceFrames | None = gt_sequence(gt_dir, num_digits)
    else:
        sequence = result_sequence(masks, num_digits, report)
    tracks = read_track_file(res_dir, report)
    if sequence is None:
        return report

    scan = scan_masks(res_dir, sequence)

    check_names(masks, sequence, {frame for frame, _ in scan.missing}, report)
    if scan.missing:
        add_grouped(report.errors, {"mask not found (every frame needs one, even an empty one)": scan.missing})
    add_grouped(report.errors, scan.problems)
    if scan.empty:
        add_grouped(report.warnings, {"empty mask (no labelled object); accepted, but was a cell lost?": scan.empty})
    for label, frames in sorted(scan.split.items()):
        report.warnings.append(
            where(frames, label) + "split into disconnected pieces; accepted by the official tools, "
            "but each cell should be one connected region"
        )
    if tracks is not None:
        valid = check_track_table(tracks, report)
        check_consistency(valid, {track.label for track in tracks}, scan.presence, sequence, scan.checked, report)
        check_lineage(res_dir, valid, sequence, scan.checked, report)
    return report


def check_lineage(
    res_dir: Path, tracks: dict[int, Track], sequence: SequenceFrames, checked: set[int], report: ValidationReport
) -> None:
    """Warnings about lineages no cell produces (the official tools accept them): more than two
    children, one-frame tracks that neither start nor end the sequence, daughters away from their mother."""
    children: dict[int, list[Track]] = defaultdict(list)
    for track in tracks.values():
        if track.parent in tracks:
            children[track.parent].append(track)
    for parent, kids in sorted(children.items()):
        if len(kids) > 2:
            labels = ", ".join(str(kid.label) for kid in sorted(kids))
            report.warnings.append(
                f"label {parent}: {len(kids)} children ({labels}); accepted, but a cell divides into two"
            )
    first, last = sequence.frames[0], sequence.frames[-1]
    single = sorted(label for label, track in tracks.items() if first < track.begin == track.end < last)
    if single:
        labels = name_list([str(label) for label in single], 10)
        report.warnings.append(
            f"{len(single)} one-frame track(s) inside the sequence (labels {labels}); "
            "accepted, but often segmentation flicker"
        )
    for parent, kids in sorted(children.items()):
        if len(kids) < 2:
            continue
        end = tracks[parent].end
        for kid in kids:
            if end in checked and kid.begin in checked and not _overlaps(res_dir, sequence.digits, parent, end, kid):
                report.warnings.append(
                    where([kid.begin], kid.label) + f"daughter of {parent} does not overlap its mother's last mask "
                    f"(frame {end}); accepted, but daughters appear where their mother was"
                )


def _overlaps(res_dir: Path, digits: int, parent: int, end: int, kid: Track) -> bool:
    mother = read_labels(res_dir / mask_name(end, digits)) == parent
    daughter = read_labels(res_dir / mask_name(kid.begin, digits)) == kid.label
    return bool((ndimage.binary_dilation(mother, iterations=DAUGHTER_DISTANCE) & daughter).any())


def read_track_file(res_dir: Path, report: ValidationReport) -> list[Track] | None:
    """The parsed res_track.txt, or None with the reason recorded as an error."""
    path = res_dir / TRACK_FILE
    if not path.is_file():
        report.errors.append(f"{TRACK_FILE} not found (needed even when no cell is tracked)")
        return None
    try:
        tracks = read_tracks(path)
    except CTCInputError as error:
        report.errors.append(str(error).replace(str(path), TRACK_FILE, 1))
        return None
    if b"\r" in path.read_bytes():
        report.warnings.append(
            f"{TRACK_FILE} has CRLF (Windows) line ends; only LF line ends are known to be read "
            "by every build of the official tools"
        )
    return tracks


def check_names(
    masks: list[tuple[int, Path]], sequence: SequenceFrames, missing: set[int], report: ValidationReport
) -> None:
    """Masks the official tools will not read: other digit counts, ``.tiff``, frames outside the sequence.

    A misnamed mask is an error when it stands in for a missing frame, else it is merely ignored.
    """
    frames = set(sequence.frames)
    misnamed = sorted((path.name, index) for index, path in masks if path.name != mask_name(index, sequence.digits))
    if misnamed:
        target = report.errors if any(index in missing for _, index in misnamed) else report.warnings
        target.append(
            f"{name_list([name for name, _ in misnamed])}: not read by the official tools, "
            f"which expect {sequence.digits}-digit names "
            f"ending in .tif ({mask_name(sequence.frames[0], sequence.digits)})"
        )
    extra = sorted(
        (index, path.name)
        for index, path in masks
        if path.name == mask_name(index, sequence.digits) and index not in frames
    )
    if extra:
        add_grouped(
            report.warnings,
            {f"not a frame of the GT (frames {frame_ranges(frames)}); the official tools ignore it": extra},
        )
