"""The atomic result writer: complete and valid, or nothing."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile

from ctc_submit import download
from ctc_submit.io import CTCInputError, Track, read_labels, read_tracks
from ctc_submit.submission import (
    InvalidResultError,
    SubmissionWriter,
    check_destination,
    check_room,
    sequence_folders,
)


def frames() -> list[np.ndarray]:
    first = np.zeros((8, 8), dtype=np.int32)
    first[1:4, 1:4] = 1
    second = first.copy()
    second[5:7, 5:7] = 2
    return [first, second]


TRACKS = [Track(1, 0, 1, 0), Track(2, 1, 1, 0)]


def write(destination, tracks=TRACKS, overwrite=False, digits=3):
    with SubmissionWriter(destination, digits, overwrite) as writer:
        for index, frame in enumerate(frames()):
            writer.write(index, frame)
        return writer.commit(tracks)


def test_the_result_appears_only_on_commit_with_nothing_left_beside_it(tmp_path):
    destination = tmp_path / "01_RES"
    with SubmissionWriter(destination, 3) as writer:
        writer.write(0, frames()[0])
        writer.write(1, frames()[1])
        assert not destination.exists()
        report = writer.commit(TRACKS)
    assert report.ok
    assert sorted(path.name for path in destination.iterdir()) == ["mask000.tif", "mask001.tif", "res_track.txt"]
    assert read_tracks(destination / "res_track.txt") == TRACKS
    assert read_labels(destination / "mask001.tif").dtype == np.uint16
    assert [path.name for path in tmp_path.iterdir()] == ["01_RES"]
    assert stat.S_IMODE(destination.stat().st_mode) & 0o055, "result folder readable by others, as mkdir would make it"


def test_digits_follow_the_input_names(tmp_path):
    write(tmp_path / "01_RES", digits=4)
    assert (tmp_path / "01_RES" / "mask0001.tif").is_file()


def test_a_failure_before_commit_leaves_no_trace(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with SubmissionWriter(tmp_path / "01_RES", 3) as writer:
            writer.write(0, frames()[0])
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_an_invalid_result_is_refused_and_not_moved_into_place(tmp_path):
    with pytest.raises(InvalidResultError, match="label 2"):
        write(tmp_path / "01_RES", tracks=[Track(1, 0, 1, 0)])
    assert list(tmp_path.iterdir()) == []


def test_a_non_empty_destination_needs_overwrite_and_is_then_replaced(tmp_path):
    destination = tmp_path / "01_RES"
    destination.mkdir()
    (destination / "mask007.tif").write_text("old")
    (destination / "SEG_log.txt").write_text("old")
    with pytest.raises(CTCInputError, match="allow overwriting") as refused:
        write(destination)
    assert refused.value.option == "overwrite"
    assert (destination / "mask007.tif").is_file()
    write(destination, overwrite=True)
    assert not (destination / "mask007.tif").exists()
    assert (destination / "mask001.tif").is_file()
    assert [path.name for path in tmp_path.iterdir()] == ["01_RES"]


def test_an_empty_destination_folder_is_used_as_is(tmp_path):
    (tmp_path / "01_RES").mkdir()
    write(tmp_path / "01_RES")
    assert (tmp_path / "01_RES" / "mask000.tif").is_file()


def test_a_destination_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "01_RES").write_text("")
    with pytest.raises(CTCInputError, match="not a folder"):
        write(tmp_path / "01_RES", overwrite=True)


def test_each_mask_is_written_once_in_order_and_never_read_back(tmp_path, monkeypatch, tiff_writes):
    def refuse(*args, **kwargs):
        raise AssertionError("a mask was read back")

    monkeypatch.setattr(tifffile, "TiffFile", refuse)
    monkeypatch.setattr(imagecodecs, "tiff_decode", refuse)
    with SubmissionWriter(tmp_path / "01_RES", 3) as writer:
        with pytest.raises(ValueError, match="frame 1 written out of order: frame 0 is next"):
            writer.write(1, frames()[1])
        for index, frame in enumerate(frames()):
            writer.write(index, frame)
        with pytest.raises(ValueError, match="frame 1 written out of order: frame 2 is next"):
            writer.write(1, frames()[1])
        assert writer.commit(TRACKS).ok
    assert tiff_writes == ["mask000.tif.part", "mask001.tif.part"]


@pytest.mark.parametrize("foreign", ["notes.txt", "t000.tif", "TRA/"])
def test_overwrite_replaces_only_a_folder_that_looks_like_a_result(tmp_path, foreign):
    destination = tmp_path / "01_RES"
    destination.mkdir()
    (destination / "mask000.tif").write_text("old")
    if foreign.endswith("/"):
        (destination / foreign).mkdir()
    else:
        (destination / foreign).write_text("precious")
    with pytest.raises(CTCInputError, match=f"not a result folder \\(holds {foreign.rstrip('/')}\\)"):
        write(destination, overwrite=True)
    assert sorted(path.name for path in destination.iterdir()) == sorted(["mask000.tif", foreign.rstrip("/")])


@pytest.mark.parametrize("output", ["01", ".", "01/sub", "01_GT", "01_GT/TRA", "01_ST"])
def test_an_output_that_is_contains_or_lies_in_an_input_folder_is_refused(tmp_path, output):
    for name in ("01", "01_GT/TRA", "01_ST"):
        (tmp_path / name).mkdir(parents=True)
    with pytest.raises(CTCInputError, match="overlaps the input folder"):
        check_destination(tmp_path / output, overwrite=True, protected=sequence_folders(tmp_path / "01"))
    check_destination(tmp_path / "01_RES", overwrite=True, protected=sequence_folders(tmp_path / "01"))


def test_an_output_below_a_file_or_in_an_unwritable_place_is_found_before_any_work(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(CTCInputError, match="file is a file, not a folder"):
        check_room(tmp_path / "file" / "01_RES", 3, (8, 8))
    with pytest.raises(CTCInputError, match="cannot write in /proc"):
        check_room(Path("/proc/ctc_submit_test/01_RES"), 3, (8, 8))
    check_room(tmp_path / "new" / "01_RES", 3, (8, 8))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file"]


def test_an_output_without_room_for_the_masks_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "free_bytes", lambda folder: 1000)
    with pytest.raises(CTCInputError, match="not enough free space for 3 masks \\(0.1 MB needed"):
        check_room(tmp_path / "01_RES", 3, (100, 100))


def test_stale_working_folders_of_dead_runs_are_removed_but_not_those_of_live_ones(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".01_RES.pid{int(dead.stdout)}.abc123.tmp"
    stale_old = tmp_path / f".01_RES.pid{int(dead.stdout)}.abc124.old.tmp"
    live = tmp_path / f".01_RES.pid{os.getppid()}.abc125.tmp"
    other = tmp_path / f".02_RES.pid{int(dead.stdout)}.abc126.tmp"
    for folder in (stale, stale_old, live, other):
        (folder / "sub").mkdir(parents=True)
    write(tmp_path / "01_RES")
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(["01_RES", live.name, other.name])
