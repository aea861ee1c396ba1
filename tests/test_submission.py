"""The atomic result writer: complete and valid, or nothing."""

from __future__ import annotations

import stat

import numpy as np
import pytest

from ctc_submit.io import CTCInputError, Track, read_labels, read_tracks
from ctc_submit.submission import InvalidResultError, SubmissionWriter


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
    (destination / "old.txt").write_text("old")
    with pytest.raises(CTCInputError, match="--overwrite"):
        write(destination)
    assert (destination / "old.txt").is_file()
    write(destination, overwrite=True)
    assert not (destination / "old.txt").exists()
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


def test_frames_already_written_can_be_relabelled(tmp_path):
    destination = tmp_path / "01_RES"
    with SubmissionWriter(destination, 3) as writer:
        for index, frame in enumerate(frames()):
            writer.write(index, frame)
        writer.relabel(1, {1: 3})
        writer.commit([Track(1, 0, 0, 0), Track(2, 1, 1, 0), Track(3, 1, 1, 1)])
    assert set(np.unique(read_labels(destination / "mask001.tif"))) == {0, 2, 3}
