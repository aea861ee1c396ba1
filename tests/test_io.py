"""CTC file formats: frame discovery, TIFF reading/writing, and the res_track.txt parser and writer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import given
from hypothesis import strategies as st

from ctc_submit.io import (
    CTCInputError,
    Track,
    format_tracks,
    list_frames,
    mask_layout,
    mask_name,
    parse_tracks,
    read_frame,
    read_labels,
    read_tracks,
    tiff_layout,
    write_mask,
    write_tracks,
)

PARSER_CASES = [
    "ws_blank_line_middle",
    "ws_comment_header",
    "ws_leading_space",
    "ws_multi_spaces",
    "ws_no_final_newline",
    "ws_one_blank_line",
    "ws_trailing_space",
    "ws_unsorted",
    "bad_tab_sep",
    "bad_extra_columns",
    "bad_trailing_blank_lines",
]


def touch_frames(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        tifffile.imwrite(folder / name, np.zeros((4, 4), np.uint8))


# --- frame discovery -------------------------------------------------------------------------


def test_real_sequence_frames_are_sorted_by_index(ctc_data):
    frames = list_frames(ctc_data / "DIC-C2DH-HeLa" / "01")
    assert [path.name for path in frames] == [f"t{index:03d}.tif" for index in range(84)]


def test_four_digit_frames_sort_numerically(tmp_path):
    names = [f"t{index:04d}.tif" for index in (10, 2, 0, 1, 3, 4, 5, 6, 7, 8, 9)]
    touch_frames(tmp_path, names)
    assert [path.name for path in list_frames(tmp_path)] == [f"t{index:04d}.tif" for index in range(11)]


@pytest.mark.parametrize(
    "names, complaint",
    [
        (["t000.tif", "t001.tif", "t003.tif"], "t002 is missing"),
        (["t000.tif", "t0001.tif"], "mix 3 and 4 digits"),
        (["t000.tif", "t000.tiff", "t001.tif"], "two files for frame 0"),
        (["image.tif", "t00.tif"], "no frames named tNNN.tif"),
    ],
)
def test_bad_frame_numbering_is_an_error(tmp_path, names, complaint):
    touch_frames(tmp_path, names)
    with pytest.raises(CTCInputError, match=re.escape(complaint)):
        list_frames(tmp_path)


def test_missing_sequence_folder_is_named(tmp_path):
    with pytest.raises(CTCInputError, match="nowhere: folder not found"):
        list_frames(tmp_path / "nowhere")


# --- reading TIFFs ---------------------------------------------------------------------------


def test_real_lzw_frame_reads_as_uint8(ctc_data):
    path = ctc_data / "DIC-C2DH-HeLa" / "01" / "t000.tif"
    assert tiff_layout(path).compression == "LZW"
    frame = read_frame(path)
    assert frame.shape == (512, 512)
    assert frame.dtype == np.uint8
    assert frame.std() > 0


def test_uint16_frame_reads_unchanged(tmp_path):
    image = np.arange(12 * 9, dtype=np.uint16).reshape(12, 9) * 500
    tifffile.imwrite(tmp_path / "t000.tif", image, compression="lzw")
    np.testing.assert_array_equal(read_frame(tmp_path / "t000.tif"), image)


@pytest.mark.parametrize(
    "image, complaint",
    [
        (np.zeros((8, 8, 3), np.uint8), "3 samples per pixel"),
        (np.zeros((5, 8, 8), np.uint8), "expected a 2D frame, got a stack of 5 pages"),
        (np.zeros((8, 8), np.complex64), "unsupported pixel type"),
    ],
    ids=["rgb", "3d", "complex"],
)
def test_frames_that_are_not_2d_grayscale_are_rejected(tmp_path, image, complaint):
    path = tmp_path / "t000.tif"
    tifffile.imwrite(path, image, photometric="rgb" if image.ndim == 3 and image.shape[-1] == 3 else None)
    with pytest.raises(CTCInputError, match=re.escape(f"{path}: ") + ".*" + re.escape(complaint)):
        read_frame(path)


def test_unreadable_tiff_is_named(tmp_path):
    path = tmp_path / "t000.tif"
    path.write_bytes(b"not a tiff at all")
    with pytest.raises(CTCInputError, match=re.escape(f"{path}: unreadable TIFF")):
        read_frame(path)


def test_float_label_image_is_rejected(tmp_path):
    path = tmp_path / "mask000.tif"
    tifffile.imwrite(path, np.zeros((4, 4), np.float32))
    with pytest.raises(CTCInputError, match="must be integer, got float32"):
        read_labels(path)


@pytest.mark.parametrize("case, shape", [("tif_extra_dim", (40, 40)), ("tif_bigendian", (40, 40)), ("D3", (5, 20, 20))])
def test_labels_are_read_page_by_page(eval_fixtures, case, shape):
    """A single page is 2D whatever axes the metadata declares; a page stack is 3D (as the official tools see it)."""
    labels = read_labels(eval_fixtures / "golden" / case / "01_RES" / "mask000.tif")
    assert labels.shape == shape
    assert labels.dtype == np.uint16
    assert labels.max() > 0


# --- writing masks ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.int64, bool])
def test_mask_round_trip_is_uint16_zlib(tmp_path, dtype):
    rng = np.random.default_rng(0)
    high = 2 if dtype is bool else min(np.iinfo(dtype).max, 65535)
    labels = rng.integers(0, high, size=(33, 47)).astype(dtype)
    path = tmp_path / "mask007.tif"
    written = write_mask(path, labels)
    assert mask_layout(written) == tiff_layout(path), "the layout a written mask is checked with is its file's"
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        assert len(tif.pages) == 1
        assert page.compression == tifffile.COMPRESSION.ADOBE_DEFLATE
        assert page.dtype == np.uint16
        assert page.samplesperpixel == 1
    back = read_labels(path)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, labels.astype(np.uint16))
    np.testing.assert_array_equal(written, back)
    assert [p.name for p in tmp_path.iterdir()] == ["mask007.tif"]


@pytest.mark.parametrize(
    "labels",
    [np.full((4, 4), 65536), np.full((4, 4), -1), np.zeros((4, 4), np.float32), np.zeros((2, 4, 4), np.uint16)],
    ids=["too-large", "negative", "float", "3d"],
)
def test_masks_that_do_not_fit_uint16_2d_are_refused(tmp_path, labels):
    with pytest.raises(ValueError):
        write_mask(tmp_path / "mask000.tif", labels)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "frame, mask", [("t000.tif", "mask000.tif"), ("t0012.tif", "mask0012.tif"), ("t000123.tif", "mask000123.tif")]
)
def test_mask_names_keep_the_digit_count_of_the_frames(frame, mask):
    assert mask_name(int(frame[1:-4]), len(frame) - 5) == mask


# --- res_track.txt: the official parser's verdicts -------------------------------------------


def official_tra(eval_fixtures: Path, case: str) -> dict:
    return json.loads((eval_fixtures / "golden" / case / "expected.json").read_text())["TRA"]


@pytest.mark.parametrize("case", PARSER_CASES)
def test_parser_accepts_exactly_what_the_official_parser_accepts(eval_fixtures, case):
    official = official_tra(eval_fixtures, case)
    path = eval_fixtures / "golden" / case / "01_RES" / "res_track.txt"
    line = re.search(r"\(Line=(\d+)\)", official["message"])
    if line:
        with pytest.raises(CTCInputError, match=re.escape(f"{path}:{line.group(1)}: ")):
            read_tracks(path)
    else:
        assert official["rc"] == 0
        reference = read_tracks(eval_fixtures / "golden" / "R0_perfect" / "01_RES" / "res_track.txt")
        assert sorted(read_tracks(path)) == sorted(reference)


# --- res_track.txt: properties ---------------------------------------------------------------

INT32 = st.integers(min_value=0, max_value=2**31 - 1)
tracks_lists = st.lists(
    st.builds(Track, label=INT32, begin=INT32, end=INT32, parent=INT32), max_size=30, unique_by=lambda t: t.label
)
BLANKS = st.text(alphabet=" \t", min_size=1, max_size=4)


@given(tracks_lists)
def test_writer_output_parses_back_identically(tracks):
    assert parse_tracks(format_tracks(tracks)) == sorted(tracks)


@given(tracks_lists)
def test_writer_output_is_strict_l_b_e_p_lines(tracks):
    text = format_tracks(tracks)
    assert text == "" or text.endswith("\n")
    lines = text.split("\n")[:-1]
    assert len(lines) == len(tracks)
    assert all(re.fullmatch(r"\d+ \d+ \d+ \d+", line) for line in lines)


@given(tracks_lists, st.data())
def test_parser_tolerates_the_whitespace_the_official_parser_accepts(tracks, data):
    """Leading blanks, runs of spaces/tabs between numbers, CRLF, no final newline."""
    lines = []
    for track in tracks:
        lead = data.draw(st.sampled_from(["", " ", "\t", "  \t"]))
        gaps = [data.draw(BLANKS) for _ in range(3)]
        fields = [str(v) for v in (track.label, track.begin, track.end, track.parent)]
        lines.append(lead + "".join(f + g for f, g in zip(fields, gaps)) + fields[-1])
    ending = data.draw(st.sampled_from(["\n", "\r\n"]))
    text = ending.join(lines) + (ending if lines and data.draw(st.booleans()) else "")
    assert parse_tracks(text) == tracks


@given(tracks_lists.filter(bool), st.data())
def test_parser_rejects_trailing_blanks_and_blank_lines_with_their_line_number(tracks, data):
    lines = format_tracks(tracks).split("\n")[:-1]
    index = data.draw(st.integers(0, len(lines)))
    if index < len(lines) and data.draw(st.booleans()):
        lines[index] += data.draw(BLANKS)
        complaint = "expected 4 integers"
    else:
        lines.insert(index, data.draw(st.sampled_from(["", " ", "\t"])))
        complaint = "blank line"
    with pytest.raises(CTCInputError, match=f"res_track.txt:{index + 1}: {complaint}"):
        parse_tracks("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("1 0 0 0 0\n", "expected 4 integers"),
        ("1 0 0\n", "expected 4 integers"),
        ("1 0 1_0 0\n", "expected 4 integers"),
        ("1 0 0x1 0\n", "expected 4 integers"),
        ("1 0 1.0 0\n", "expected 4 integers"),
        ("\ufeff1 0 0 0\n", "expected 4 integers"),
        ("2147483648 0 0 0\n", "out of range"),
        ("\n", "blank line"),
    ],
)
def test_parser_rejects_what_cannot_be_four_ints(text, complaint):
    with pytest.raises(CTCInputError, match=complaint):
        parse_tracks(text)


def test_signed_numbers_parse_so_the_validator_can_name_them():
    assert parse_tracks("+3 0 2 -1\n") == [Track(3, 0, 2, -1)]


def test_write_tracks_writes_lf_only_and_reads_back(tmp_path):
    tracks = [Track(2, 0, 5, 0), Track(1, 0, 3, 0), Track(3, 4, 9, 1)]
    path = tmp_path / "res_track.txt"
    write_tracks(path, tracks)
    assert path.read_bytes() == b"1 0 3 0\n2 0 5 0\n3 4 9 1\n"
    assert read_tracks(path) == sorted(tracks)


def test_missing_track_file_is_named(tmp_path):
    with pytest.raises(CTCInputError, match="res_track.txt: file not found"):
        read_tracks(tmp_path / "res_track.txt")
