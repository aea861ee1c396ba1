"""Lineage rules on hand-made stacks, and random stacks through lineage and writer checked by the validator."""

from __future__ import annotations

import tempfile
from pathlib import Path

import networkx as nx
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ctc_submit.io import Track
from ctc_submit.lineage import (
    apply_relabel,
    build_lineage,
    count_divisions,
    graph_from_tracks,
    presence,
    reconcile,
    tracks_from_graph,
)
from ctc_submit.submission import SubmissionWriter
from ctc_submit.validate import validate_result

SHAPE = (12, 12)


def stack_of(*frames: list[tuple[int, int, int, int, int]], shape: tuple[int, int] = SHAPE) -> np.ndarray:
    """Frames given as lists of (label, row, col, height, width) rectangles, painted in order."""
    stack = np.zeros((len(frames), *shape), dtype=np.int32)
    for frame, objects in zip(stack, frames):
        for label, row, col, height, width in objects:
            frame[row : row + height, col : col + width] = label
    return stack


def label_at(stack: np.ndarray, frame: int, row: int, col: int) -> int:
    return int(stack[frame, row, col])


def by_label(tracks: list[Track]) -> dict[int, Track]:
    return {track.label: track for track in tracks}


def test_daughters_with_new_labels_get_the_mother_as_parent():
    mother, left, right = (1, 2, 4, 6, 6), (2, 2, 3, 6, 4), (3, 2, 7, 6, 4)
    stack, tracks = build_lineage(stack_of([mother], [mother], [left, right], [left, right]), parent_window=3)
    tracks = by_label(tracks)
    m, a, b = label_at(stack, 0, 4, 6), label_at(stack, 2, 4, 4), label_at(stack, 2, 4, 9)
    assert tracks[m] == Track(m, 0, 1, 0)
    assert tracks[a] == Track(a, 2, 3, m) and tracks[b] == Track(b, 2, 3, m)
    assert count_divisions(tracks.values()) == 1


def test_a_mother_that_keeps_her_label_as_one_daughter_is_cut_where_the_other_appears():
    mother, kept, new = (1, 2, 4, 6, 6), (1, 2, 3, 6, 4), (2, 2, 7, 6, 4)
    stack, tracks = build_lineage(stack_of([mother], [mother], [kept, new], [kept, new]), parent_window=3)
    tracks = by_label(tracks)
    m, a, b = label_at(stack, 0, 4, 6), label_at(stack, 2, 4, 4), label_at(stack, 2, 4, 9)
    assert len({m, a, b}) == 3
    assert tracks[m] == Track(m, 0, 1, 0)
    assert tracks[a] == Track(a, 2, 3, m) and tracks[b] == Track(b, 2, 3, m)


def test_a_label_with_a_gap_becomes_two_tracks_linked_parent_to_child():
    cell = (5, 2, 2, 4, 4)
    stack, tracks = build_lineage(stack_of([cell], [cell], [], [cell], [cell]), parent_window=3)
    first, second = label_at(stack, 0, 3, 3), label_at(stack, 3, 3, 3)
    assert first != second
    assert sorted(tracks) == sorted([Track(first, 0, 1, 0), Track(second, 3, 4, first)])


def test_a_cell_leaving_the_field_ends_its_track_without_children():
    stack, tracks = build_lineage(stack_of([(1, 4, 8, 4, 4)], [(1, 4, 10, 4, 2)], []), parent_window=3)
    assert tracks == [Track(1, 0, 1, 0)]
    assert not stack[2].any()


def test_a_new_cell_far_from_everything_has_no_parent():
    stack, tracks = build_lineage(stack_of([(1, 0, 0, 3, 3)], [(1, 0, 0, 3, 3), (2, 8, 8, 3, 3)]), parent_window=3)
    assert by_label(tracks)[label_at(stack, 1, 9, 9)].parent == 0


def test_the_parent_is_searched_only_within_the_window():
    cell, again = (1, 2, 2, 4, 4), (2, 2, 2, 4, 4)
    for window, expected_parent in [(3, True), (2, False)]:
        stack, tracks = build_lineage(stack_of([cell], [], [], [again]), parent_window=window)
        parent = by_label(tracks)[label_at(stack, 3, 3, 3)].parent
        assert (parent == label_at(stack, 0, 3, 3)) is expected_parent


def test_objects_entirely_within_the_border_band_are_removed():
    edge, crossing = (1, 0, 0, 2, 2), (2, 0, 5, 4, 2)
    stack, tracks = build_lineage(stack_of([edge, crossing]), parent_window=3, border_band=(2.5, 2.5))
    assert not stack[0, :2, :2].any()
    assert len(tracks) == 1 and stack[0, 0, 5] == tracks[0].label


def test_short_parentless_tracks_can_be_dropped():
    blip, cell = (1, 0, 0, 2, 2), (2, 6, 6, 4, 4)
    stack, tracks = build_lineage(stack_of([blip, cell], [cell], [cell]), parent_window=3, min_length=2)
    assert tracks == [Track(1, 0, 2, 0)]
    assert not stack[0, :2, :2].any()


def test_reconcile_drops_empty_tracks_and_hands_their_children_to_the_grandparent():
    graph = graph_from_tracks([Track(1, 0, 1, 0), Track(2, 2, 3, 1), Track(3, 4, 5, 2)])
    present = [{1}, {1}, set(), set(), {3}, {3}]
    result, relabel = reconcile(present, graph)
    assert tracks_from_graph(result) == [Track(1, 0, 1, 0), Track(3, 4, 5, 1)]
    assert not any(relabel)


def test_reconcile_splits_a_gap_and_keeps_children_on_the_part_before_them():
    graph = graph_from_tracks([Track(1, 0, 3, 0), Track(2, 4, 4, 1)])
    result, relabel = reconcile([{1}, set(), {1}, {1}, {2}], graph)
    tracks = tracks_from_graph(result)
    assert tracks == [Track(1, 0, 0, 0), Track(2, 4, 4, 3), Track(3, 2, 3, 1)]
    assert relabel[2] == {1: 3} and relabel[3] == {1: 3} and not relabel[0]


RECTANGLE = st.tuples(
    st.integers(1, 6), st.integers(0, SHAPE[0] - 1), st.integers(0, SHAPE[1] - 1), st.integers(1, 6), st.integers(1, 6)
)
FRAMES = st.lists(st.lists(RECTANGLE, max_size=5), min_size=1, max_size=7)


def write_and_validate(stack: np.ndarray, tracks: list[Track]) -> list[str]:
    with tempfile.TemporaryDirectory() as folder:
        destination = Path(folder) / "01_RES"
        with SubmissionWriter(destination, digits=3) as writer:
            for index, frame in enumerate(stack):
                writer.write(index, frame)
            writer.commit(tracks)
        return validate_result(destination).errors


@settings(max_examples=60, deadline=None)
@given(frames=FRAMES, window=st.integers(1, 3), border=st.sampled_from([0.0, 1.5]), min_length=st.integers(1, 3))
def test_random_stacks_come_out_valid_with_their_pixels_kept(frames, window, border, min_length):
    """Appearing, vanishing, splitting, merging and gapped objects: lineage output always passes the CTC rules."""
    stack = stack_of(*frames)
    result, tracks = build_lineage(stack, window, (border, border), min_length=min_length)
    assert write_and_validate(result, tracks) == []
    assert not (result > 0)[stack == 0].any()
    if border == 0 and min_length == 1:
        assert ((result > 0) == (stack > 0)).all()
    graph = graph_from_tracks(tracks)
    assert nx.is_directed_acyclic_graph(graph) and all(graph.in_degree(node) <= 1 for node in graph)


@settings(max_examples=40, deadline=None)
@given(frames=FRAMES, data=st.data())
def test_objects_vanishing_after_lineage_are_reconciled_into_valid_tracks(frames, data):
    """What upsampling may do: any objects lose all pixels in any frames; tracks are repaired."""
    stack, tracks = build_lineage(stack_of(*frames), parent_window=2)
    present = presence(stack)
    for frame, labels in enumerate(present):
        for label in sorted(labels):
            if data.draw(st.booleans(), label=f"drop {label} from frame {frame}"):
                stack[frame][stack[frame] == label] = 0
    graph, relabel = reconcile(presence(stack), graph_from_tracks(tracks))
    apply_relabel(stack, relabel)
    assert write_and_validate(stack, tracks_from_graph(graph)) == []
