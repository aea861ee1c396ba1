"""Check a CTC result folder (``maskNNN.tif`` + ``res_track.txt``) against the official rules.

A result the official TRAMeasure rejects scores nothing, and its messages name neither the
frame nor the reason. This module applies the same rules, says which one failed, where
(frame, label) and why, and separates hard errors (the official tool rejects the result)
from warnings (accepted, but probably not what was meant). Frames are checked one at a time,
read from a folder or as a result is being written, so a long sequence never has to fit in memory.
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


def frame_runs(frames: Iterable[int]) -> list[tuple[int, int]]:
    """Maximal ranges of consecutive frames, as (first, last), in order."""
    runs: list[list[int]] = []
    for frame in sorted(frames):
        if runs and frame == runs[-1][1] + 1:
            runs[-1][1] = frame
        else:
            runs.append([frame, frame])
    return [(first, last) for first, last in runs]


def frame_ranges(frames: Iterable[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2, 5"``: long frame lists stay one readable line."""
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in frame_runs(frames))


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


@dataclass(frozen=True)
class Region:
    """Where one label lies in one mask: the corner of its bounding box and its pixels inside the box."""

    corner: tuple[int, ...]
    inside: np.ndarray

    @classmethod
    def of(cls, inside: np.ndarray) -> Region:
        """The region of a whole-mask boolean image (not empty)."""
        (box,) = ndimage.find_objects(inside.view(np.uint8))
        return cls(tuple(axis.start for axis in box), inside[box])


Place = tuple[int, int]  # (label, frame)


def regions_touch(mother: Region | None, daughter: Region | None) -> bool:
    """Whether the daughter comes within DAUGHTER_DISTANCE pixels of the mother (as dilating the whole
    mask would find: the dilated mother is cut to the daughter's box); False where either is absent."""
    if mother is None or daughter is None:
        return False
    grown = ndimage.binary_dilation(np.pad(mother.inside, DAUGHTER_DISTANCE), iterations=DAUGHTER_DISTANCE)
    corner = [start - DAUGHTER_DISTANCE for start in mother.corner]
    low = [max(a, b) for a, b in zip(corner, daughter.corner)]
    high = [
        min(a + size, b + other)
        for a, size, b, other in zip(corner, grown.shape, daughter.corner, daughter.inside.shape)
    ]
    if any(start >= stop for start, stop in zip(low, high)):
        return False
    near = grown[tuple(slice(start - a, stop - a) for start, stop, a in zip(low, high, corner))]
    inside = daughter.inside[tuple(slice(start - b, stop - b) for start, stop, b in zip(low, high, daughter.corner))]
    return bool((near & inside).any())


class MaskScan:
    """One pass over the masks, a frame at a time and in order, from their files (:meth:`add_file`) or
    as they are written (:meth:`add_mask`): what each frame holds and breaks; (frame, file name) pairs
    say where.

    It also settles the daughter check (:meth:`touches`, for :func:`check_lineage`) without going back
    to a mask. When the track table is known before the masks, its (mother's last, daughter's first)
    ``pairs`` are compared as soon as both masks are seen, and each region is let go once its pairs
    are settled. Otherwise each label's first and last region are kept, which is what a track table
    that agrees with the masks points to.
    """

    def __init__(self, gt_files: dict[int, Path] | None = None, pairs: set[tuple[Place, Place]] | None = None) -> None:
        self.gt_files = gt_files or {}
        self.presence: dict[int, list[int]] = defaultdict(list)
        self.split: dict[int, list[int]] = defaultdict(list)
        self.checked: set[int] = set()
        self.missing: list[tuple[int, str]] = []
        self.empty: list[tuple[int, str]] = []
        self.problems: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self.pairs = pairs
        self.touching: dict[tuple[Place, Place], bool] = {}
        self.regions: dict[Place, Region] = {}
        self._reference: tuple[tuple[int, ...], str] | None = None
        self._last: dict[int, int] = {}
        self._due: dict[int, list[tuple[Place, Place]]] = defaultdict(list)  # pairs by the frame that completes them
        self._needed_until: dict[Place, int] = {}
        for pair in pairs or ():
            complete = max(pair[0][1], pair[1][1])
            self._due[complete].append(pair)
            for place in pair:
                self._needed_until[place] = max(self._needed_until.get(place, complete), complete)

    def add_file(self, frame: int, path: Path) -> None:
        """Check the mask file of ``frame`` (reading its pixels only when its header is usable)."""
        mask = self._read(frame, path)
        if mask is not None:
            self._scan(frame, path.name, mask)
        self._settle(frame)

    def add_mask(self, frame: int, name: str, mask: np.ndarray, layout: TiffLayout) -> None:
        """Check the mask of ``frame`` as it is written to the file ``name`` with ``layout``."""
        if self._usable(frame, name, layout):
            self._scan(frame, name, mask)
        self._settle(frame)

    def touches(self, mother: Place, daughter: Place) -> bool:
        """Whether the daughter's region comes near the mother's (:func:`regions_touch`); both frames scanned."""
        if self.pairs is None:
            return regions_touch(self.regions.get(mother), self.regions.get(daughter))
        return self.touching[mother, daughter]

    def _read(self, frame: int, path: Path) -> np.ndarray | None:
        name = path.name
        if not path.is_file():
            self.missing.append((frame, name))
            return None
        try:
            layout = tiff_layout(path)
        except CTCInputError as error:
            self.problems[str(error).removeprefix(f"{path}: ")].append((frame, name))
            return None
        if not self._usable(frame, name, layout):
            return None
        try:
            return read_labels(path)
        except CTCInputError as error:  # a header that reads but pixel data that does not decode
            self.problems[str(error).removeprefix(f"{path}: ")].append((frame, name))
            return None

    def _usable(self, frame: int, name: str, layout: TiffLayout) -> bool:
        if self.gt_files:
            expected, reference = tiff_layout(self.gt_files[frame]).shape, "the GT"
        else:
            if self._reference is None:
                self._reference = layout.shape, f"the first mask ({name})"
            expected, reference = self._reference
        problems, usable = layout_problems(layout, expected, reference)
        for problem in problems:
            self.problems[problem].append((frame, name))
        return usable

    def _scan(self, frame: int, name: str, mask: np.ndarray) -> None:
        labels = labels_present(mask)
        self.checked.add(frame)
        if not len(labels):
            self.empty.append((frame, name))
        boxes = ndimage.find_objects(mask) if mask.dtype == np.uint16 else None
        for label in map(int, labels):
            self.presence[label].append(frame)
            region = None
            if boxes is not None:
                box = boxes[label - 1]
                region = Region(tuple(axis.start for axis in box), mask[box] == label)
                if connected_pieces(region.inside)[1] > 1:
                    self.split[label].append(frame)
            if self.pairs is None or (label, frame) in self._needed_until:
                self._keep(label, frame, region if region is not None else Region.of(mask == label))

    def _keep(self, label: int, frame: int, region: Region) -> None:
        if self.pairs is None:
            last = self._last.get(label)
            if last is not None and last != self.presence[label][0]:
                del self.regions[label, last]
            self._last[label] = frame
        self.regions[label, frame] = region

    def _settle(self, frame: int) -> None:
        """Compare the pairs that ``frame`` completes, and let go of the regions no pair needs any more."""
        for mother, daughter in self._due.pop(frame, []):
            self.touching[mother, daughter] = regions_touch(self.regions.get(mother), self.regions.get(daughter))
        if self.pairs is not None:
            for place in [place for place in self.regions if self._needed_until[place] <= frame]:
                del self.regions[place]


def daughter_pairs(tracks: Iterable[Track]) -> set[tuple[Place, Place]]:
    """The (mother's last, daughter's first) (label, frame) pairs of the daughter check, by every line
    of the track table (it is not checked yet): each mother with two or more daughters."""
    tracks = list(tracks)
    children = Counter(track.parent for track in tracks if track.parent)
    ends: dict[int, list[int]] = defaultdict(list)
    for track in tracks:
        ends[track.label].append(track.end)
    return {
        ((track.parent, end), (track.label, track.begin))
        for track in tracks
        if children[track.parent] >= 2
        for end in ends[track.parent]
    }


def check_digits(num_digits: int | None) -> None:
    if num_digits is not None and num_digits < MIN_DIGITS:
        raise CTCInputError(
            f"digit count of the mask names must be at least {MIN_DIGITS}, got {num_digits}", "num_digits"
        )


def validate_result(res_dir: Path, gt_dir: Path | None = None, num_digits: int | None = None) -> ValidationReport:
    """Check a result folder against every rule of the official TRAMeasure.

    ``gt_dir`` (``SEQ_GT`` or its ``TRA`` folder) fixes the frames, their size and the digit
    count; without it the frames are 0..last mask and the size that of the first mask.
    Raises :class:`CTCInputError` for unusable arguments (missing folders, GT without markers).
    """
    res_dir = Path(res_dir)
    if not res_dir.is_dir():
        raise CTCInputError(f"{res_dir}: folder not found")
    check_digits(num_digits)
    report = ValidationReport()
    masks = mask_files(res_dir)
    if gt_dir is not None:
        sequence: SequenceFrames | None = gt_sequence(gt_dir, num_digits)
    else:
        sequence = result_sequence(masks, num_digits, report)
    tracks = read_track_file(res_dir, report)
    if sequence is None:
        return report
    scan = MaskScan(sequence.gt_files, daughter_pairs(tracks or []))
    for frame in sequence.frames:
        scan.add_file(frame, res_dir / mask_name(frame, sequence.digits))
    check_names(masks, sequence, {frame for frame, _ in scan.missing}, report)
    check_scan(scan, sequence, tracks, report)
    return report


def validate_written(scan: MaskScan, frames: int, digits: int, tracks: list[Track]) -> ValidationReport:
    """What :func:`validate_result` says of a folder holding ``tracks`` as res_track.txt and the masks
    of frames 0..``frames``-1 that ``scan`` checked as they were written, without reading anything back.

    The same report, except for a result whose mother or daughter also lies in the masks outside
    its declared frames (an error already): its daughter warnings may differ.
    """
    check_digits(digits)
    report = ValidationReport()
    sequence = result_sequence([(frame, Path(mask_name(frame, digits))) for frame in range(frames)], digits, report)
    if sequence is not None:
        check_scan(scan, sequence, tracks, report)
    return report


def check_scan(scan: MaskScan, sequence: SequenceFrames, tracks: list[Track] | None, report: ValidationReport) -> None:
    """The rules on what the masks hold, and on the track table against them."""
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
        check_lineage(valid, sequence, scan, report)


def check_lineage(tracks: dict[int, Track], sequence: SequenceFrames, scan: MaskScan, report: ValidationReport) -> None:
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
            if end not in scan.checked or kid.begin not in scan.checked:
                continue
            if not scan.touches((parent, end), (kid.label, kid.begin)):
                report.warnings.append(
                    where([kid.begin], kid.label) + f"daughter of {parent} does not overlap its mother's last mask "
                    f"(frame {end}); accepted, but daughters appear where their mother was"
                )


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
