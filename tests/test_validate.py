"""The validator against the official TRAMeasure's verdicts, and rule by rule on generated results."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
from golden_cases import GOLDEN_CASES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctc_submit.io import CTCInputError, Track, mask_layout, mask_name, read_labels, write_mask, write_tracks
from ctc_submit.validate import MaskScan, frame_ranges, validate_result, validate_written

# Without the GT the digit count comes from the masks, so 4-digit masks are a valid sequence.
NEEDS_GT = {"bad_four_digits"}


def golden(eval_fixtures: Path, case: str) -> tuple[Path, Path, dict]:
    folder = eval_fixtures / "golden" / case
    return folder / "01_RES", folder / "01_GT", json.loads((folder / "expected.json").read_text())


def what_official_names(message: str) -> list[str]:
    """The labels, mask files and track-file lines the official message points at."""
    names = [f"label {n}" for n in re.findall(r"(?:label|id=)\s*(\d+)", message)]
    names += re.findall(r"mask\d+\.tif", message.split("gt=")[-1])
    names += [f"res_track.txt:{n}:" for n in re.findall(r"Line=(\d+)", message)]
    return names


def test_every_golden_case_is_covered(eval_fixtures):
    assert sorted(p.name for p in (eval_fixtures / "golden").iterdir()) == sorted(GOLDEN_CASES)


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_verdict_matches_official_tra(eval_fixtures, case):
    res_dir, gt_dir, expected = golden(eval_fixtures, case)
    report = validate_result(res_dir, gt_dir, expected["num_digits"])
    official_rejects = expected["TRA"]["rc"] != 0
    assert report.ok is not official_rejects, report.errors
    errors = "\n".join(report.errors)
    for name in what_official_names(expected["TRA"]["message"]):
        assert name in errors


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_verdict_without_gt(eval_fixtures, case):
    res_dir, _, expected = golden(eval_fixtures, case)
    report = validate_result(res_dir)
    assert report.ok is (expected["TRA"]["rc"] == 0 or case in NEEDS_GT), report.errors


@pytest.mark.parametrize(
    "case, warning",
    [
        ("bad_disconnected_label", "frame 1, label 20: split into disconnected pieces"),
        ("bad_track_beyond_seq", "label 20: declared for frames 0-5, beyond the sequence (frames 0-2)"),
        ("bad_extra_res_frame", "frame 3 (mask003.tif): not a frame of the GT"),
        ("bad_empty_frame", "frame 1 (mask001.tif): empty mask"),
    ],
)
def test_accepted_but_suspicious_results_get_a_warning(eval_fixtures, case, warning):
    res_dir, gt_dir, _ = golden(eval_fixtures, case)
    report = validate_result(res_dir, gt_dir)
    assert report.ok
    assert any(line.startswith(warning) for line in report.warnings), report.warnings


@pytest.mark.slow
@pytest.mark.parametrize("case", ["PhC-C2DL-PSC-01", "iPSC-01"])
def test_real_results_scored_by_the_official_tools_are_valid(eval_fixtures, case):
    """300 and 102 frames with 6-digit names: no false alarm on real submissions; their lineages,
    which give some cells three children, are warned about."""
    report = validate_result(eval_fixtures / case / "01_RES", eval_fixtures / case / "01_GT")
    assert report.ok, report.errors[:5]
    lineage = ("children (", "one-frame track(s) inside", "does not overlap its mother")
    assert report.warnings and all(any(kind in warning for kind in lineage) for warning in report.warnings)


# --- generated results -----------------------------------------------------------------------


def write_result(root: Path, frames: list[np.ndarray], tracks: list[Track]) -> tuple[Path, Path]:
    """A result folder and a GT folder (markers = the same labels) in CTC layout."""
    res_dir, tra_dir = root / "01_RES", root / "01_GT" / "TRA"
    res_dir.mkdir(parents=True)
    tra_dir.mkdir(parents=True)
    for index, labels in enumerate(frames):
        write_mask(res_dir / mask_name(index, 3), labels)
        write_mask(tra_dir / f"man_track{index:03d}.tif", labels)
    write_tracks(res_dir / "res_track.txt", tracks)
    return res_dir, root / "01_GT"


def division_result(root: Path) -> tuple[Path, Path]:
    """Cell 1 lives through frames 0-2; cell 2 divides into 3 and 4 at frame 2."""
    frames = [np.zeros((12, 16), np.uint16) for _ in range(3)]
    for frame in frames:
        frame[1:4, 1:4] = 1
    frames[0][6:9, 6:9] = frames[1][6:9, 7:10] = 2
    frames[2][6:9, 4:7], frames[2][6:9, 10:13] = 3, 4
    return write_result(root, frames, [Track(1, 0, 2, 0), Track(2, 0, 1, 0), Track(3, 2, 2, 2), Track(4, 2, 2, 2)])


def test_generated_division_is_valid(tmp_path):
    res_dir, gt_dir = division_result(tmp_path)
    report = validate_result(res_dir, gt_dir)
    assert (report.errors, report.warnings) == ([], [])


def test_gt_tra_folder_itself_is_accepted(tmp_path):
    res_dir, gt_dir = division_result(tmp_path)
    assert validate_result(res_dir, gt_dir / "TRA").ok


@pytest.mark.parametrize(
    "line, error",
    [
        ("0 0 2 0", "label 0: labels must be between 1 and 65535"),
        ("70000 0 2 0", "label 70000: labels must be between 1 and 65535"),
        ("5 -1 1 0", "label 5: begins at frame -1"),
        ("5 1 1 5", "label 5: is its own parent"),
        ("5 3 4 0", "label 5: declared for frames 3-4, outside the sequence (frames 0-2)"),
    ],
)
def test_track_table_rules(tmp_path, line, error):
    res_dir, gt_dir = division_result(tmp_path)
    with open(res_dir / "res_track.txt", "a") as file:
        file.write(line + "\n")
    report = validate_result(res_dir, gt_dir)
    assert error in "\n".join(report.errors)


def test_label_after_its_declared_end(tmp_path):
    res_dir, gt_dir = division_result(tmp_path)
    tracks = [Track(1, 0, 1, 0), Track(2, 0, 1, 0), Track(3, 2, 2, 2), Track(4, 2, 2, 2)]
    write_tracks(res_dir / "res_track.txt", tracks)
    report = validate_result(res_dir, gt_dir)
    assert report.errors == ["frame 2, label 1: in the mask outside frames 0-1 declared in res_track.txt"]


@pytest.mark.parametrize(
    "image, kwargs, error",
    [
        (np.zeros((12, 16, 3), np.uint16), {"photometric": "rgb"}, "3 samples per pixel"),
        (
            np.zeros((4, 12, 16), np.uint16),
            {"photometric": "minisblack"},
            "size 4\u00d712\u00d716 (3D, 4 pages), expected 12\u00d716",
        ),
        (np.zeros((12, 16), np.float32), {}, "pixel type float32"),
        (np.zeros((12, 17), np.uint16), {}, "size 12\u00d717, expected 12\u00d716 as the GT"),
        (np.zeros((12, 16), np.uint16), {"compression": "zstd"}, "ZSTD compression"),
    ],
    ids=["rgb", "3d", "float", "size", "zstd"],
)
def test_bad_mask_is_one_error_naming_frame_and_file(tmp_path, image, kwargs, error):
    res_dir, gt_dir = division_result(tmp_path)
    tifffile.imwrite(res_dir / "mask001.tif", image, **kwargs)
    report = validate_result(res_dir, gt_dir)
    mask_errors = [line for line in report.errors if "mask001.tif" in line]
    assert len(mask_errors) == 1
    assert mask_errors[0].startswith("frame 1 (mask001.tif): ")
    assert error in mask_errors[0]


def test_3d_masks_are_valid_when_the_gt_is_3d(tmp_path):
    volumes = [np.zeros((3, 8, 8), np.uint16) for _ in range(2)]
    for volume in volumes:
        volume[1:3, 2:5, 2:5] = 7
    res_dir, tra_dir = tmp_path / "01_RES", tmp_path / "01_GT" / "TRA"
    res_dir.mkdir(parents=True)
    tra_dir.mkdir(parents=True)
    for index, volume in enumerate(volumes):
        tifffile.imwrite(res_dir / mask_name(index, 3), volume, compression="zlib", photometric="minisblack")
        tifffile.imwrite(tra_dir / f"man_track{index:03d}.tif", volume, photometric="minisblack")
    write_tracks(res_dir / "res_track.txt", [Track(7, 0, 1, 0)])
    assert validate_result(res_dir, tmp_path / "01_GT").ok
    write_mask(res_dir / "mask001.tif", volumes[1][1])
    assert "expected 3\u00d78\u00d78 (3D, 3 pages)" in "\n".join(validate_result(res_dir, tmp_path / "01_GT").errors)


def test_misnamed_masks_are_explained(tmp_path):
    res_dir, gt_dir = division_result(tmp_path)
    (res_dir / "mask002.tif").rename(res_dir / "mask002.tiff")
    report = validate_result(res_dir, gt_dir)
    assert report.errors[0].startswith("mask002.tiff: not read by the official tools, which expect 3-digit names")
    assert "frame 2 (mask002.tif): mask not found" in report.errors[1]


def test_stray_tiff_next_to_the_right_mask_is_only_a_warning(tmp_path):
    res_dir, gt_dir = division_result(tmp_path)
    (res_dir / "mask0002.tif").write_bytes((res_dir / "mask002.tif").read_bytes())
    report = validate_result(res_dir, gt_dir)
    assert report.ok
    assert report.warnings[0].startswith("mask0002.tif: not read by the official tools")


def test_crlf_track_file_is_accepted_with_a_warning(tmp_path):
    res_dir, gt_dir = division_result(tmp_path)
    path = res_dir / "res_track.txt"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    report = validate_result(res_dir, gt_dir)
    assert report.ok
    assert "CRLF" in report.warnings[0]


def test_without_gt_the_frames_start_at_zero(tmp_path):
    res_dir, _ = division_result(tmp_path)
    (res_dir / "mask000.tif").unlink()
    report = validate_result(res_dir)
    assert "frame 0 (mask000.tif): mask not found" in report.errors[0]


def test_without_gt_the_size_is_that_of_the_first_mask(tmp_path):
    res_dir, _ = division_result(tmp_path)
    write_mask(res_dir / "mask002.tif", np.zeros((12, 15), np.uint16))
    report = validate_result(res_dir)
    expected = "frame 2 (mask002.tif): size 12\u00d715, expected 12\u00d716 as the first mask (mask000.tif)"
    assert report.errors[0] == expected


def test_many_bad_frames_make_one_line(tmp_path):
    """Labels of integer masks of the wrong type are still checked: here they are consistent."""
    res_dir, gt_dir = division_result(tmp_path)
    for index in range(3):
        path = res_dir / mask_name(index, 3)
        tifffile.imwrite(path, read_labels(path).astype(np.uint8))
    report = validate_result(res_dir, gt_dir)
    assert report.errors == [
        "frames 0-2 (mask000.tif ... mask002.tif): pixel type uint8; the official tools read only uint16 masks"
    ]


@pytest.mark.parametrize("make, message", [(lambda root: root / "nowhere", "folder not found")])
def test_unusable_arguments_raise(tmp_path, make, message):
    res_dir, gt_dir = division_result(tmp_path)
    with pytest.raises(CTCInputError, match=message):
        validate_result(make(tmp_path))
    with pytest.raises(CTCInputError, match=message):
        validate_result(res_dir, make(tmp_path))
    with pytest.raises(CTCInputError, match="GT names have 3 digits, not 4"):
        validate_result(res_dir, gt_dir, num_digits=4)


def test_frame_ranges():
    assert frame_ranges([7, 0, 1, 2, 5, 8, 9]) == "0-2, 5, 7-9"


# --- property: generated lineages are valid, and any single rule break is caught -------------


@st.composite
def lineages(draw) -> tuple[int, dict[int, list[int]]]:
    """Random divisions, deaths and gap-closing links: {label: [begin, end, parent]}."""
    frame_count = draw(st.integers(2, 5))
    tracks: dict[int, list[int]] = {}
    alive: list[int] = []
    pending: list[tuple[int, int]] = []
    for _ in range(draw(st.integers(1, 3))):
        tracks[len(tracks) + 1] = [0, 0, 0]
        alive.append(len(tracks))
    for frame in range(1, frame_count):
        born = [parent for start, parent in pending if start == frame]
        next_alive = []
        for label in alive:
            fate = draw(st.sampled_from(["continue", "continue", "end", "divide", "gap"]))
            if fate == "continue":
                tracks[label][1] = frame
                next_alive.append(label)
            elif fate == "divide":
                born += [label, label]
            elif fate == "gap":
                pending.append((frame + 1, label))
        for parent in born:
            tracks[len(tracks) + 1] = [frame, frame, parent]
            next_alive.append(len(tracks))
        alive = next_alive
    return frame_count, tracks


def render(frame_count: int, tracks: dict[int, list[int]]) -> list[np.ndarray]:
    """Each label a 2x2 block of its own, so no two cells touch."""
    width = 3 * (max(tracks) + 2)
    frames = [np.zeros((3, width), np.uint16) for _ in range(frame_count)]
    for label, (begin, end, _) in tracks.items():
        for frame in frames[begin : end + 1]:
            frame[:2, 3 * label : 3 * label + 2] = label
    return frames


def as_tracks(tracks: dict[int, list[int]]) -> list[Track]:
    return [Track(label, *fields) for label, fields in tracks.items()]


PROPERTY_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(lineages())
def test_generated_lineages_are_valid(lineage):
    frame_count, tracks = lineage
    with tempfile.TemporaryDirectory() as root:
        res_dir, gt_dir = write_result(Path(root), render(frame_count, tracks), as_tracks(tracks))
        report = validate_result(res_dir, gt_dir)
    assert report.errors == []


@PROPERTY_SETTINGS
@given(lineages(), st.data())
def test_any_single_rule_break_is_caught(lineage, data):
    frame_count, tracks = lineage
    frames = render(frame_count, tracks)
    breaks = ["drop", "undeclared", "duplicate", "missing_mask"]
    if any(end < frame_count - 1 for _, end, _ in tracks.values()):
        breaks.append("extend")
    if any(parent for _, _, parent in tracks.values()):
        breaks.append("overlap")
    kind = data.draw(st.sampled_from(breaks))
    table = as_tracks(tracks)
    missing_frame = None
    if kind == "drop":
        label = data.draw(st.sampled_from(sorted(tracks)))
        begin, end, _ = tracks[label]
        frame = data.draw(st.integers(begin, end))
        frames[frame][frames[frame] == label] = 0
        expected = f"frame {frame}, label {label}: missing from the mask"
    elif kind == "undeclared":
        frame = data.draw(st.integers(0, frame_count - 1))
        frames[frame][2, 0] = 999
        expected = f"frame {frame}, label 999: in the mask but not declared"
    elif kind == "duplicate":
        label = data.draw(st.sampled_from(sorted(tracks)))
        table.append(Track(label, *tracks[label]))
        expected = f"label {label}: declared 2 times"
    elif kind == "missing_mask":
        missing_frame = data.draw(st.integers(0, frame_count - 1))
        expected = f"({mask_name(missing_frame, 3)}): mask not found"
    elif kind == "extend":
        label = data.draw(st.sampled_from(sorted(label for label, (_, e, _) in tracks.items() if e < frame_count - 1)))
        begin, end, parent = tracks[label]
        table[table.index(Track(label, begin, end, parent))] = Track(label, begin, end + 1, parent)
        expected = f"frame {end + 1}, label {label}: missing from the mask"
    else:
        child = data.draw(st.sampled_from(sorted(label for label, (_, _, p) in tracks.items() if p)))
        begin, end, parent = tracks[child]
        old = Track(parent, *tracks[parent])
        table[table.index(old)] = Track(parent, old.begin, begin, old.parent)
        expected = f"label {child}: parent {parent} ends at frame {begin}, not before this track begins"
    with tempfile.TemporaryDirectory() as root:
        res_dir, gt_dir = write_result(Path(root), frames, table)
        if missing_frame is not None:
            (res_dir / mask_name(missing_frame, 3)).unlink()
        report = validate_result(res_dir, gt_dir)
    assert not report.ok
    assert any(expected in line for line in report.errors), (expected, report.errors)


def lineage_result(folder: Path, frames: list[list[tuple[int, int, int]]], tracks: list[Track]) -> Path:
    """Frames as lists of (label, row, col) 3x3 squares in a 20x20 image, with their track file."""
    for index, objects in enumerate(frames):
        mask = np.zeros((20, 20), np.uint16)
        for label, row, col in objects:
            mask[row : row + 3, col : col + 3] = label
        write_mask(folder / mask_name(index, 3), mask)
    write_tracks(folder / "res_track.txt", tracks)
    return folder


def test_three_children_one_frame_tracks_and_distant_daughters_are_warnings(tmp_path):
    mother, near, near2, far = (1, 8, 8), (2, 5, 8), (3, 11, 8), (4, 0, 16)
    frames = [[mother], [mother], [near, near2, far], [near, near2], [near, near2]]
    tracks = [Track(1, 0, 1, 0), Track(2, 2, 4, 1), Track(3, 2, 4, 1), Track(4, 2, 2, 1)]
    report = validate_result(lineage_result(tmp_path, frames, tracks))
    assert report.ok, report.errors
    assert any("label 1: 3 children (2, 3, 4)" in warning for warning in report.warnings)
    assert any("one-frame track(s) inside the sequence (labels 4)" in warning for warning in report.warnings)
    distant = [warning for warning in report.warnings if "does not overlap its mother" in warning]
    assert len(distant) == 1 and distant[0].startswith("frame 2, label 4:")


def test_a_clean_division_gives_no_lineage_warning(tmp_path):
    mother, left, right = (1, 8, 8), (2, 6, 8), (3, 10, 8)
    frames = [[mother], [mother], [left, right], [left, right]]
    tracks = [Track(1, 0, 1, 0), Track(2, 2, 3, 1), Track(3, 2, 3, 1)]
    report = validate_result(lineage_result(tmp_path, frames, tracks))
    assert report.ok and report.warnings == []


# --- masks checked as they are written -------------------------------------------------------

RECTANGLES = st.lists(
    st.tuples(st.integers(1, 5), st.integers(0, 9), st.integers(0, 9), st.integers(1, 4), st.integers(1, 4)), max_size=5
)
ANY_TRACK = st.builds(Track, st.integers(-1, 6), st.integers(-1, 6), st.integers(-1, 6), st.integers(-1, 6))


def paint(objects: list[tuple[int, int, int, int, int]]) -> np.ndarray:
    """(label, row, col, height, width) rectangles painted in order on a 12x12 mask."""
    mask = np.zeros((12, 12), np.uint16)
    for label, row, col, height, width in objects:
        mask[row : row + height, col : col + width] = label
    return mask


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(RECTANGLES, min_size=1, max_size=6), st.booleans(), st.data())
def test_masks_checked_as_they_are_written_give_the_report_of_their_folder(frames, agree, data):
    """Touching, distant, split, vanishing and reappearing objects under a track table that agrees with
    them (each label the daughter of a random earlier one) or any table: the same errors as the folder,
    and the same warnings unless a label lies in the masks outside its declared frames (then the
    daughter check may differ)."""
    masks = [paint(objects) for objects in frames]
    present: dict[int, list[int]] = {}
    for index, mask in enumerate(masks):
        for label in np.unique(mask[mask > 0]).tolist():
            present.setdefault(label, []).append(index)
    if agree:
        tracks = []
        for label, seen in sorted(present.items()):
            earlier = [other for other, frames_of in present.items() if frames_of[-1] < seen[0]]
            tracks.append(Track(label, seen[0], seen[-1], data.draw(st.sampled_from(earlier)) if earlier else 0))
    else:
        tracks = data.draw(st.lists(ANY_TRACK, max_size=6))
    scan = MaskScan()
    with tempfile.TemporaryDirectory() as root:
        for index, mask in enumerate(masks):
            written = write_mask(Path(root) / mask_name(index, 3), mask)
            scan.add_mask(index, mask_name(index, 3), written, mask_layout(written))
        write_tracks(Path(root) / "res_track.txt", tracks)
        expected = validate_result(Path(root), num_digits=3)
    report = validate_written(scan, len(masks), 3, tracks)
    assert report.errors == expected.errors
    if not any("in the mask outside" in error for error in expected.errors):
        assert report.warnings == expected.warnings
