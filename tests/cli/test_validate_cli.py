"""``ctc-submit validate`` in-process: report lines, summary and exit codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from click.testing import CliRunner

from ctc_submit.cli import main
from ctc_submit.io import Track, mask_name, write_mask, write_tracks


def small_result(root: Path) -> tuple[Path, Path]:
    """Two frames of one 12x16 cell, with its GT."""
    res_dir, tra_dir = root / "01_RES", root / "01_GT" / "TRA"
    res_dir.mkdir(parents=True)
    tra_dir.mkdir(parents=True)
    labels = np.zeros((12, 16), np.uint16)
    labels[2:6, 3:8] = 1
    for index in range(2):
        write_mask(res_dir / mask_name(index, 3), labels)
        write_mask(tra_dir / f"man_track{index:03d}.tif", labels)
    write_tracks(res_dir / "res_track.txt", [Track(1, 0, 1, 0)])
    return res_dir, root / "01_GT"


def run(*args: str):
    return CliRunner().invoke(main, ["validate", *args])


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.lower().startswith("error")]


def test_validate_is_a_subcommand():
    assert "validate" in CliRunner().invoke(main, ["--help"]).output


def test_valid_result_exits_0_with_a_summary(tmp_path):
    res_dir, gt_dir = small_result(tmp_path)
    result = run(str(res_dir), "--gt", str(gt_dir))
    assert result.exit_code == 0, result.output
    assert result.output == f"{res_dir}: valid (0 errors, 0 warnings)\n"


def test_golden_invalid_result_exits_1_naming_frame_and_label(eval_fixtures):
    case = eval_fixtures / "golden" / "bad_gap"
    result = run(str(case / "01_RES"), "--gt", str(case / "01_GT"), "--num-digits", "3")
    assert result.exit_code == 1
    assert error_lines(result.output) == [
        "error: frame 1, label 20: missing from the mask, but res_track.txt declares frames 0-2 "
        "(a track with a gap needs a new label whose parent is the old one)"
    ]
    assert result.output.splitlines()[-1].endswith("INVALID (1 error, 0 warnings)")


def test_warnings_do_not_fail(eval_fixtures):
    case = eval_fixtures / "golden" / "bad_disconnected_label"
    result = run(str(case / "01_RES"), "--gt", str(case / "01_GT"))
    assert result.exit_code == 0
    assert result.output.splitlines()[0].startswith("warning: frame 1, label 20: split into disconnected pieces")


@pytest.mark.parametrize(
    "image, kwargs, complaint",
    [
        (np.zeros((12, 16, 3), np.uint16), {"photometric": "rgb"}, "3 samples per pixel"),
        (np.zeros((5, 12, 16), np.uint16), {"photometric": "minisblack"}, "(3D, 5 pages), expected 12\u00d716"),
        (np.zeros((12, 16), np.float32), {}, "pixel type float32"),
        (np.zeros((13, 16), np.uint16), {}, "size 13\u00d716, expected 12\u00d716"),
    ],
    ids=["rgb", "3d", "float", "size"],
)
def test_bad_mask_is_one_clear_line_and_exit_1(tmp_path, image, kwargs, complaint):
    res_dir, gt_dir = small_result(tmp_path)
    tifffile.imwrite(res_dir / "mask001.tif", image, **kwargs)
    result = run(str(res_dir), "--gt", str(gt_dir))
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    (line,) = error_lines(result.output)
    assert line.startswith("error: frame 1 (mask001.tif): ")
    assert complaint in line
    assert "Traceback" not in result.output


@pytest.mark.parametrize("which", ["res", "gt"])
def test_missing_folder_is_a_usage_error(tmp_path, which):
    res_dir, gt_dir = small_result(tmp_path)
    missing = tmp_path / "nowhere"
    args = [str(missing)] if which == "res" else [str(res_dir), "--gt", str(missing)]
    result = run(*args)
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert error_lines(result.output) == [f"Error: {missing}: folder not found"]


def test_num_digits_below_three_is_a_usage_error(tmp_path):
    res_dir, _ = small_result(tmp_path)
    result = run(str(res_dir), "--num-digits", "2")
    assert result.exit_code == 2
    assert len(error_lines(result.output)) == 1


def test_gt_without_markers_is_a_usage_error(tmp_path):
    res_dir, _ = small_result(tmp_path)
    (tmp_path / "empty_GT").mkdir()
    result = run(str(res_dir), "--gt", str(tmp_path / "empty_GT"))
    assert result.exit_code == 2
    assert error_lines(result.output) == [f"Error: {tmp_path / 'empty_GT'}: no GT markers named man_trackNNN.tif"]


def corrupt_pixel_data(path: Path) -> None:
    """Overwrite the compressed pixels of a TIFF, keeping its header sound."""
    with tifffile.TiffFile(path) as tif:
        offset, count = tif.pages[0].dataoffsets[0], tif.pages[0].databytecounts[0]
    data = bytearray(path.read_bytes())
    data[offset : offset + count] = b"\xff" * count
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["pixels", "truncated"])
def test_a_corrupt_mask_makes_the_result_invalid_not_the_arguments(tmp_path, damage):
    res_dir, gt_dir = small_result(tmp_path)
    mask = res_dir / "mask001.tif"
    if damage == "pixels":
        corrupt_pixel_data(mask)
    else:
        mask.write_bytes(mask.read_bytes()[:20])
    result = run(str(res_dir), "--gt", str(gt_dir))
    assert result.exit_code == 1, result.output
    (error,) = error_lines(result.output)
    assert "mask001.tif" in error and ("unreadable TIFF" in error or "no image" in error)
    assert result.output.splitlines()[-1] == f"{res_dir}: INVALID (1 error, 0 warnings)"
