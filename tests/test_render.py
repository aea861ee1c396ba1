"""Pictures of results: colours, outlines, the lineage layout, and the files written."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from ctc_submit.cli import main
from ctc_submit.io import Track, read_tracks, write_mask, write_tracks
from ctc_submit.render import boundaries, centroids, label_color, lineage_layout, overlay

FRAMES = 12


def test_label_colours_are_stable_and_distinct() -> None:
    colours = [label_color(label) for label in range(1, 31)]
    assert colours == [label_color(label) for label in range(1, 31)]
    assert len(set(colours)) == 30
    assert all(max(colour) == 255 for colour in colours)


def test_outline_and_centroid_of_a_square() -> None:
    labels = np.zeros((10, 12), np.uint16)
    labels[2:6, 3:9] = 7
    edge = boundaries(labels)
    assert edge.sum() == 2 * 6 + 2 * 2
    assert not edge[3:5, 4:8].any()
    assert centroids(labels) == {7: (3.5, 5.5)}
    rgb = overlay(np.zeros(labels.shape, np.uint8), labels)
    assert tuple(rgb[2, 3]) == label_color(7)
    assert tuple(rgb[0, 0]) == (0, 0, 0)


def test_division_puts_both_children_beside_their_parent() -> None:
    tracks = [Track(1, 0, 4, 0), Track(2, 5, 9, 1), Track(3, 5, 9, 1), Track(4, 0, 9, 0)]
    layout = lineage_layout(tracks)
    rows = layout.rows
    assert rows[2] < rows[1] < rows[3]
    assert rows[4] not in (rows[1], rows[2], rows[3])
    branches = {(s.t0, s.y0, s.t1, s.y1) for s in layout.segments if s.division}
    assert branches == {(5, rows[1], 5, rows[2]), (5, rows[1], 5, rows[3])}
    lines = {s.label: (s.t0, s.t1) for s in layout.segments if not s.division}
    assert lines == {1: (0, 5), 2: (5, 10), 3: (5, 10), 4: (0, 10)}


def test_cycles_and_missing_parents_still_get_rows() -> None:
    layout = lineage_layout([Track(1, 0, 3, 2), Track(2, 4, 5, 1), Track(5, 0, 1, 99)])
    assert set(layout.rows) == {1, 2, 5}
    assert sum(s.division for s in layout.segments) == 1


@st.composite
def forests(draw) -> list[Track]:
    """Random lineages: each track's parent is an earlier track (or none)."""
    count = draw(st.integers(1, 25))
    tracks: list[Track] = []
    for label in range(1, count + 1):
        parent = draw(st.integers(0, label - 1))
        begin = tracks[parent - 1].end + 1 if parent else draw(st.integers(0, 5))
        tracks.append(Track(label, begin, begin + draw(st.integers(0, 6)), parent))
    return tracks


@settings(max_examples=60, deadline=None)
@given(forests())
def test_layout_rows_nest_every_subtree(tracks: list[Track]) -> None:
    layout = lineage_layout(tracks)
    children = {t.label: [c.label for c in tracks if c.parent == t.label] for t in tracks}
    leaves = [label for label, kids in children.items() if not kids]
    assert sorted(layout.rows[label] for label in leaves) == list(range(len(leaves)))
    for label, kids in children.items():
        if kids:
            kid_rows = [layout.rows[kid] for kid in kids]
            assert min(kid_rows) <= layout.rows[label] <= max(kid_rows)
    assert sum(s.division for s in layout.segments) == sum(t.parent > 0 for t in tracks)


def test_layout_of_the_real_lineage(ctc_data: Path) -> None:
    tracks = read_tracks(ctc_data / "DIC-C2DH-HeLa" / "01_GT" / "TRA" / "man_track.txt")
    layout = lineage_layout(tracks)
    assert layout.rows[3] < layout.rows[1] < layout.rows[4]
    starts = {(s.t0, s.t1, s.y1) for s in layout.segments if s.division and s.label == 1}
    assert starts == {(30, 30, layout.rows[3]), (30, 30, layout.rows[4])}


@pytest.fixture
def staged_gt(ctc_data: Path, tmp_path: Path) -> Path:
    """The first frames of DIC-C2DH-HeLa 01 and its GT TRA, linked as DATASET/01 and DATASET/01_RES."""
    source = ctc_data / "DIC-C2DH-HeLa"
    dataset = tmp_path / "DIC-C2DH-HeLa"
    (dataset / "01").mkdir(parents=True)
    (dataset / "01_RES").mkdir()
    for t in range(FRAMES):
        (dataset / "01" / f"t{t:03d}.tif").symlink_to(source / "01" / f"t{t:03d}.tif")
        (dataset / "01_RES" / f"mask{t:03d}.tif").symlink_to(source / "01_GT" / "TRA" / f"man_track{t:03d}.tif")
    clipped = [
        Track(t.label, t.begin, min(t.end, FRAMES - 1), t.parent)
        for t in read_tracks(source / "01_GT" / "TRA" / "man_track.txt")
        if t.begin < FRAMES
    ]
    write_tracks(dataset / "01_RES" / "res_track.txt", clipped)
    return dataset / "01_RES"


def test_render_gt_next_to_its_sequence(staged_gt: Path) -> None:
    result = CliRunner().invoke(main, ["render", str(staged_gt)])
    assert result.exit_code == 0, result.output
    out = staged_gt.parent / "01_RES_pictures"
    assert sorted(path.name for path in out.iterdir()) == ["frames.png", "lineage.png", "overlay.gif"]
    assert f"overlay  {out / 'overlay.gif'}" in result.stdout
    with Image.open(out / "overlay.gif") as gif:
        assert (gif.n_frames, gif.size) == (FRAMES, (384, 384))
        gif.seek(FRAMES - 1)
        assert len(np.unique(np.asarray(gif.convert("RGB")).reshape(-1, 3), axis=0)) > 16
    with Image.open(out / "frames.png") as sheet:
        assert sheet.size == (3 * 320, 2 * (320 + 20))
    with Image.open(out / "lineage.png") as tree:
        assert tree.width == 1000 and tree.height >= 300


def moving_squares(folder: Path, frames: int = 5) -> None:
    folder.mkdir(parents=True)
    for t in range(frames):
        labels = np.zeros((40, 60), np.uint16)
        labels[5:15, 5 + 2 * t : 15 + 2 * t] = 1
        labels[25:35, 40 - 2 * t : 50 - 2 * t] = 2
        write_mask(folder / f"mask{t:03d}.tif", labels)


def test_masks_alone_without_track_file(tmp_path: Path) -> None:
    moving_squares(tmp_path / "res")
    result = CliRunner().invoke(main, ["render", str(tmp_path / "res"), "--out", str(tmp_path / "pics")])
    assert result.exit_code == 0, result.output
    assert "no res_track.txt" in result.stderr and "masks alone" in result.stderr
    assert sorted(path.name for path in (tmp_path / "pics").iterdir()) == ["frames.png", "overlay.gif"]
    with Image.open(tmp_path / "pics" / "overlay.gif") as gif:
        assert (gif.n_frames, gif.size) == (5, (60, 40))
    with Image.open(tmp_path / "pics" / "frames.png") as sheet:
        assert sheet.size == (3 * 60, 2 * (40 + 20))


def test_bad_inputs_are_one_line_errors(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["render", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no maskNNN.tif" in result.stderr
    moving_squares(tmp_path / "res", frames=3)
    (tmp_path / "seq").mkdir()
    result = CliRunner().invoke(
        main, ["render", str(tmp_path / "res"), "--images", str(tmp_path / "seq"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "mask000.tif" in result.stderr
    (tmp_path / "res" / "mask001.tif").write_bytes(b"not a tiff")
    result = CliRunner().invoke(main, ["render", str(tmp_path / "res"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "mask001.tif: unreadable TIFF" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("Error: ") and "Traceback" not in result.output
    assert not (tmp_path / "o").exists(), "a failed render leaves no (empty) picture folder"
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = CliRunner().invoke(main, ["render", str(tmp_path / "res"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "pip install 'ctc_submit[viz]'" in result.stderr
    assert not (tmp_path / "o").exists()


def test_pictures_never_go_into_the_result_or_image_folder(tmp_path: Path) -> None:
    moving_squares(tmp_path / "res", frames=3)
    before = sorted(path.name for path in (tmp_path / "res").iterdir())
    result = CliRunner().invoke(main, ["render", str(tmp_path / "res"), "--out", str(tmp_path / "res")])
    assert result.exit_code == 2 and "overlaps the input folder" in result.stderr
    assert sorted(path.name for path in (tmp_path / "res").iterdir()) == before
