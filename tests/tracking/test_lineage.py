"""Lineage rules on hand-made stacks, random stacks through lineage and writer checked by the validator,
and the frame-by-frame reconciliation against a whole-sequence reference."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import networkx as nx
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ctc_submit.io import Track
from ctc_submit.submission import SubmissionWriter
from ctc_submit.tracking.lineage import (
    LineageRules,
    OverlapLinker,
    Reconciler,
    build_lineage,
    count_divisions,
    graph_from_tracks,
    relabel_frame,
    tracks_from_graph,
)
from ctc_submit.validate import labels_present, validate_result

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
    stack, tracks = build_lineage(
        stack_of([mother], [mother], [left, right], [left, right]), LineageRules(parent_window=3)
    )
    tracks = by_label(tracks)
    m, a, b = label_at(stack, 0, 4, 6), label_at(stack, 2, 4, 4), label_at(stack, 2, 4, 9)
    assert tracks[m] == Track(m, 0, 1, 0)
    assert tracks[a] == Track(a, 2, 3, m) and tracks[b] == Track(b, 2, 3, m)
    assert count_divisions(tracks.values()) == 1


def lookahead_splitting(stack: np.ndarray, frame: int, halves: list[tuple[int, int, int, int, int]]) -> np.ndarray:
    """The merge's lookahead for ``stack`` (each frame its own) with ``frame`` seen as ``halves`` instead."""
    lookahead = stack.copy()
    lookahead[frame] = stack_of(halves)[0]
    return lookahead


def test_a_division_moves_a_frame_earlier_where_the_next_pair_already_splits_the_mother():
    mother, left, right = (1, 2, 2, 6, 8), (2, 2, 2, 6, 4), (3, 2, 6, 6, 4)
    merged = stack_of([mother], [mother], [mother], [left, right], [left, right])
    rules = LineageRules(parent_window=3)
    stack, tracks = build_lineage(merged, rules, lookahead=lookahead_splitting(merged, 2, [left, right]))
    tracks = by_label(tracks)
    m, a, b = label_at(stack, 0, 4, 4), label_at(stack, 2, 4, 3), label_at(stack, 2, 4, 8)
    assert len({m, a, b}) == 3
    assert tracks[m] == Track(m, 0, 1, 0)
    assert tracks[a] == Track(a, 2, 4, m) and tracks[b] == Track(b, 2, 4, m)
    np.testing.assert_array_equal(stack[2], stack[3])
    # without the lookahead, or with a split that leaves a daughter too little, the division stays
    for lookahead in (None, lookahead_splitting(merged, 2, [(2, 2, 2, 6, 7), (3, 2, 9, 6, 1)])):
        _, kept = build_lineage(merged, rules, lookahead=lookahead)
        assert {track.begin for track in kept if track.parent} == {3}


def test_pixels_the_next_pair_gives_to_neither_daughter_go_to_the_nearer_one():
    mother, left, right = (1, 2, 2, 6, 8), (2, 2, 2, 6, 4), (3, 2, 6, 6, 4)
    merged = stack_of([mother], [mother], [left, right], [left, right])
    lookahead = lookahead_splitting(merged, 1, [(2, 2, 2, 6, 2), (3, 2, 8, 6, 2)])  # the middle unassigned
    stack, _ = build_lineage(merged, LineageRules(parent_window=3), lookahead=lookahead)
    np.testing.assert_array_equal(stack[1], stack[2])


def test_a_mother_of_one_frame_keeps_it():
    mother, left, right = (1, 2, 2, 6, 8), (2, 2, 2, 6, 4), (3, 2, 6, 6, 4)
    merged = stack_of([], [mother], [left, right], [left, right])
    stack, tracks = build_lineage(
        merged, LineageRules(parent_window=3), lookahead=lookahead_splitting(merged, 1, [left, right])
    )
    assert {track.begin for track in tracks if track.parent} == {2}


def test_a_mother_that_keeps_her_label_as_one_daughter_is_cut_where_the_other_appears():
    mother, kept, new = (1, 2, 4, 6, 6), (1, 2, 3, 6, 4), (2, 2, 7, 6, 4)
    stack, tracks = build_lineage(stack_of([mother], [mother], [kept, new], [kept, new]), LineageRules(parent_window=3))
    tracks = by_label(tracks)
    m, a, b = label_at(stack, 0, 4, 6), label_at(stack, 2, 4, 4), label_at(stack, 2, 4, 9)
    assert len({m, a, b}) == 3
    assert tracks[m] == Track(m, 0, 1, 0)
    assert tracks[a] == Track(a, 2, 3, m) and tracks[b] == Track(b, 2, 3, m)


def test_a_label_with_a_gap_becomes_two_tracks_linked_parent_to_child():
    cell = (5, 2, 2, 4, 4)
    stack, tracks = build_lineage(stack_of([cell], [cell], [], [cell], [cell]), LineageRules(parent_window=3))
    first, second = label_at(stack, 0, 3, 3), label_at(stack, 3, 3, 3)
    assert first != second
    assert sorted(tracks) == sorted([Track(first, 0, 1, 0), Track(second, 3, 4, first)])


def test_a_lasting_cell_missed_for_a_frame_is_filled_in_unless_a_neighbour_covers_its_place():
    cell, neighbour, spread = (1, 2, 2, 4, 4), (2, 7, 0, 4, 12), (2, 2, 0, 9, 12)
    frames = [[cell, neighbour]] * 3 + [[neighbour]] + [[cell, neighbour]] * 3
    stack, tracks = build_lineage(stack_of(*frames), LineageRules())
    assert len(tracks) == 2 and all(track.begin == 0 and track.end == 6 for track in tracks)
    assert (stack[3, 2:6, 2:6] == label_at(stack, 0, 3, 3)).all()
    frames[3] = [neighbour, spread]
    stack, tracks = build_lineage(stack_of(*frames), LineageRules())
    before, after = label_at(stack, 2, 3, 3), label_at(stack, 4, 3, 3)
    assert by_label(tracks)[after] == Track(after, 4, 6, before)


def test_a_cell_leaving_the_field_ends_its_track_without_children():
    stack, tracks = build_lineage(stack_of([(1, 4, 8, 4, 4)], [(1, 4, 10, 4, 2)], []), LineageRules(parent_window=3))
    assert tracks == [Track(1, 0, 1, 0)]
    assert not stack[2].any()


def test_a_new_cell_far_from_everything_has_no_parent():
    stack, tracks = build_lineage(
        stack_of([(1, 0, 0, 3, 3)], [(1, 0, 0, 3, 3), (2, 8, 8, 3, 3)]), LineageRules(parent_window=3)
    )
    assert by_label(tracks)[label_at(stack, 1, 9, 9)].parent == 0


def test_the_parent_is_searched_only_within_the_window():
    cell, again = (1, 2, 2, 4, 4), (2, 2, 2, 4, 4)
    for window, expected_parent in [(3, True), (2, False)]:
        stack, tracks = build_lineage(stack_of([cell], [], [], [again]), LineageRules(parent_window=window))
        parent = by_label(tracks)[label_at(stack, 3, 3, 3)].parent
        assert (parent == label_at(stack, 0, 3, 3)) is expected_parent


def test_objects_entirely_within_the_border_band_are_removed():
    edge, crossing = (1, 0, 0, 2, 2), (2, 0, 5, 4, 2)
    stack, tracks = build_lineage(stack_of([edge, crossing]), LineageRules(), border_band=(2.5, 2.5))
    assert not stack[0, :2, :2].any()
    assert len(tracks) == 1 and stack[0, 0, 5] == tracks[0].label


def test_an_object_never_as_large_as_a_cell_is_removed_but_a_cell_small_only_at_the_edge_is_kept():
    cell, speck, entering, grown = (1, 6, 6, 4, 4), (2, 0, 8, 2, 2), (3, 0, 0, 4, 1), (3, 0, 0, 4, 3)
    stack, tracks = build_lineage(stack_of([cell, speck, entering], [cell, speck, grown]), min_cell_area=12)
    assert not stack[:, 0:2, 8:10].any()
    assert len(tracks) == 2 and label_at(stack, 0, 0, 0) and label_at(stack, 0, 6, 6)
    _, tracks = build_lineage(stack_of([cell, speck, entering], [cell, speck, grown]))
    assert len(tracks) == 3


def test_a_blip_beside_a_cell_is_dropped_but_one_alone_or_at_the_start_is_kept():
    cell, blip, far = (1, 6, 6, 4, 4), (2, 6, 2, 2, 2), (3, 0, 0, 2, 2)
    stack, tracks = build_lineage(stack_of([cell], [cell, blip], [cell], [cell]), LineageRules(neighbour_distance=3))
    assert len(tracks) == 1 and not stack[1, 6:8, 2:4].any()
    _, tracks = build_lineage(stack_of([cell], [cell, far], [cell], [cell]), LineageRules(neighbour_distance=1))
    assert len(tracks) == 2
    _, tracks = build_lineage(stack_of([cell, blip], [cell], [cell]), LineageRules(neighbour_distance=3))
    assert len(tracks) == 2


def test_a_new_track_beside_a_mother_whose_remainder_flickers_out_takes_over_from_her():
    """The cell's mask breaks in frame 2 into a fragment that keeps her label for that frame alone and a
    new label that goes on: one track, the fragment joined to the new mask."""
    mother, fragment, new = (1, 2, 2, 6, 6), (1, 2, 2, 2, 2), (2, 3, 4, 5, 5)
    stack, tracks = build_lineage(stack_of([mother], [mother], [fragment, new], [new], [new], [new]), LineageRules())
    assert tracks == [Track(1, 0, 5, 0)]
    assert (stack[2] == 1).sum() == 4 + 25


def test_a_flicker_that_over_splits_a_cell_is_merged_back_into_it():
    whole, left, right = (1, 2, 2, 6, 8), (1, 2, 2, 6, 4), (2, 2, 6, 6, 4)
    stack, tracks = build_lineage(stack_of([whole], [left, right], [whole], [whole]), LineageRules())
    assert tracks == [Track(1, 0, 3, 0)]
    assert (stack[1] > 0).sum() == 48


def test_a_mother_ending_beside_three_candidates_continues_into_the_best_and_has_no_daughters():
    mother = (1, 3, 3, 6, 6)
    same, other, third = (2, 3, 3, 6, 6), (3, 0, 9, 3, 3), (4, 9, 0, 3, 3)
    frames = [[mother], [mother], [same, other, third], [same, other, third], [same, other, third]]
    stack, tracks = build_lineage(stack_of(*frames), LineageRules(min_daughter_overlap=0.0, daughter_area=(0.0, 9.0)))
    assert count_divisions(tracks) == 0
    assert by_label(tracks)[label_at(stack, 4, 4, 4)] == Track(label_at(stack, 0, 4, 4), 0, 4, 0)


def test_a_daughter_missed_for_a_frame_right_after_she_appears_still_makes_a_division():
    mother, kept, new = (1, 2, 4, 6, 6), (1, 2, 2, 6, 4), (2, 2, 7, 6, 4)  # apart: not one over-split cell
    frames = [[mother], [mother], [kept, new], [kept], [kept, new], [kept, new], [kept, new]]
    stack, tracks = build_lineage(stack_of(*frames), LineageRules())
    tracks = by_label(tracks)
    m, a, b = label_at(stack, 0, 4, 6), label_at(stack, 2, 4, 3), label_at(stack, 2, 4, 9)
    assert tracks[a] == Track(a, 2, 6, m) and tracks[b] == Track(b, 2, 6, m)
    assert label_at(stack, 3, 4, 9) == b


@pytest.mark.parametrize("kept_label", [False, True])
def test_two_cells_under_one_mask_that_come_apart_are_no_division_the_mother_rounds_up(kept_label):
    """DIC-HeLa's rule: a cell shrinks as it rounds up to divide; a mask over two cells does not."""
    merged, rounded = (1, 2, 1, 6, 10), (1, 3, 3, 4, 6)
    left, right = (1 if kept_label else 2, 2, 1, 6, 5), (3, 2, 6, 6, 5)
    rules = LineageRules(mitotic_frames=3, mitotic_area=0.8)
    for last_frames, divides in [([merged, merged], False), ([rounded, rounded], True)]:
        frames = [[merged]] * 4 + [[mother] for mother in last_frames] + [[left, right]] * 4
        _, tracks = build_lineage(stack_of(*frames), rules)
        assert count_divisions(tracks) == int(divides)
        assert len(tracks) == (3 if divides else 2)


def test_a_mother_seen_only_in_her_last_frames_from_the_first_one_is_not_judged_on_rounding():
    merged, left, right = (1, 2, 1, 6, 10), (2, 2, 1, 6, 5), (3, 2, 6, 6, 5)
    rules = LineageRules(mitotic_frames=3, mitotic_area=0.8)
    for before, divides in [(3, True), (4, False)]:
        _, tracks = build_lineage(stack_of(*[[merged]] * before, *[[left, right]] * 4), rules)
        assert count_divisions(tracks) == int(divides)


@pytest.mark.parametrize("with_lookahead", [False, True])
def test_a_cell_that_goes_under_a_neighbours_mask_and_comes_out_again_is_no_daughter(with_lookahead):
    """SIM+'s false divisions: a mask grows over a neighbour, then the two come apart."""
    cell, neighbour, over_both, newcomer = (1, 2, 1, 6, 4), (2, 2, 7, 6, 4), (1, 2, 1, 6, 10), (3, 2, 7, 6, 4)
    merged = stack_of(*[[cell, neighbour]] * 3, *[[over_both]] * 3, *[[cell, newcomer]] * 4)
    lookahead = lookahead_splitting(merged, 5, [cell, newcomer]) if with_lookahead else None
    stack, tracks = build_lineage(merged, LineageRules(), lookahead=lookahead)
    assert count_divisions(tracks) == 0
    assert sorted(tracks) == sorted(
        [Track(label_at(stack, 0, 4, 2), 0, 9, 0), Track(label_at(stack, 0, 4, 8), 0, 9, 0)]
    )
    # she takes her place back from the mask she was under, which keeps the rest
    assert all(label_at(stack, frame, 4, 8) == label_at(stack, 0, 4, 8) for frame in range(10))
    assert all(label_at(stack, frame, 4, 2) == label_at(stack, 0, 4, 2) for frame in range(10))
    # once she has been gone longer than the hidden window, what comes out is a daughter
    _, tracks = build_lineage(merged, LineageRules(hidden_window=2), lookahead=lookahead)
    assert count_divisions(tracks) == 1


def test_daughters_of_implausible_size_are_not_a_division():
    mother, big, small = (1, 2, 2, 8, 8), (2, 2, 2, 8, 6), (3, 2, 8, 1, 1)
    stack, tracks = build_lineage(
        stack_of([mother], [mother], [big, small], [big, small], [big, small]), LineageRules()
    )
    assert count_divisions(tracks) == 0
    assert by_label(tracks)[label_at(stack, 2, 4, 4)].begin == 0


def test_a_cell_missing_for_a_frame_is_linked_only_where_it_was():
    cell, moved = (1, 0, 0, 4, 4), (1, 7, 7, 4, 4)
    for again, linked in [(cell, True), (moved, False)]:
        stack, tracks = build_lineage(
            stack_of([cell], [cell], [], [again], [again]), LineageRules(neighbour_distance=0)
        )
        assert (by_label(tracks)[label_at(stack, 3, again[1] + 1, again[2] + 1)].parent != 0) is linked


def reconcile(present: Sequence[set[int]], graph: nx.DiGraph) -> tuple[nx.DiGraph, list[dict[int, int]]]:
    """The frames' labels fed to a :class:`Reconciler` one frame at a time: its graph and relabellings."""
    reconciler = Reconciler(graph, max([*graph.nodes, *(label for labels in present for label in labels), 0]) + 1)
    relabel = [reconciler.frame(labels) for labels in present]
    return reconciler.graph(), relabel


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


def test_reconcile_numbers_new_labels_as_they_are_needed_and_refuses_labels_it_could_give():
    reconciler = Reconciler(nx.DiGraph(), first_new=10)
    assert [reconciler.frame(labels) for labels in [{2, 1}, set(), {2}, {1, 2}]] == [{}, {}, {2: 10}, {1: 11, 2: 10}]
    with pytest.raises(ValueError, match="label 10 is not below"):
        reconciler.frame({10})


def test_the_overlap_linker_continues_the_largest_overlap_once_and_numbers_the_rest():
    labels = iter(range(100, 200))
    linker = OverlapLinker(lambda: next(labels))
    first = np.zeros((10, 10), np.int32)
    first[0:4, 0:4], first[6:10, 6:10] = 1, 2
    assert set(np.unique(linker.frame(first))) == {0, 100, 101}
    second = np.zeros((10, 10), np.int32)
    second[1:4, 0:4] = 1  # most of 100
    second[0:1, 0:4] = 2  # the rest of 100: 100 is taken
    second[8:10, 8:10] = 3  # all of herself inside 101: a share of the smaller
    linked = linker.frame(second)
    assert linked[2, 2] == 100 and linked[0, 0] == 102 and linked[9, 9] == 101
    third = np.zeros((10, 10), np.int32)
    third[5, 5] = 1  # overlaps nothing
    assert linker.frame(third)[5, 5] == 103 and not linker.frame(np.zeros((10, 10), np.int32)).any()


def reference_reconcile(present: Sequence[set[int]], graph: nx.DiGraph) -> tuple[nx.DiGraph, list[dict[int, int]]]:
    """The same rules applied to the whole sequence at once, new labels numbered label by label."""
    frames_of: dict[int, list[int]] = defaultdict(list)
    for frame, labels in enumerate(present):
        for label in labels:
            frames_of[label].append(frame)
    next_label = max([*frames_of, *graph.nodes, 0]) + 1
    relabel: list[dict[int, int]] = [{} for _ in present]
    result = nx.DiGraph()
    runs_of: dict[int, list[tuple[int, int, int]]] = {}
    for label in sorted(frames_of):
        runs_of[label] = []
        frames = frames_of[label]
        starts = [0] + [i for i in range(1, len(frames)) if frames[i] != frames[i - 1] + 1]
        for start, stop in zip(starts, starts[1:] + [len(frames)]):
            first, last = frames[start], frames[stop - 1]
            new = label if not runs_of[label] else next_label
            if new != label:
                next_label += 1
                result.add_edge(runs_of[label][-1][2], new)
                for frame in range(first, last + 1):
                    relabel[frame][label] = new
            result.add_node(new, begin=first, end=last)
            runs_of[label].append((first, last, new))

    def surviving_parent(label: int) -> int:
        seen = {label}
        parents = list(graph.predecessors(label)) if label in graph else []
        while parents and parents[0] not in frames_of and parents[0] not in seen:
            seen.add(parents[0])
            parents = list(graph.predecessors(parents[0]))
        return parents[0] if parents and parents[0] in frames_of else 0

    for label, runs in runs_of.items():
        parent = surviving_parent(label)
        if parent:
            begin = runs[0][0]
            earlier = [new for first, last, new in runs_of[parent] if last < begin]
            if earlier and result.out_degree(earlier[-1]) < 2:
                result.add_edge(earlier[-1], label)
    return result, relabel


def canonical(graph: nx.DiGraph, relabel: list[dict[int, int]]) -> tuple[dict, set, list[dict]]:
    """Graph and relabellings with each track named by (label in the frames, first frame) instead of its number."""
    origin = {new: old for mapping in relabel for old, new in mapping.items()}
    name = {node: (origin.get(node, node), graph.nodes[node]["begin"]) for node in graph}
    nodes = {name[node]: (graph.nodes[node]["begin"], graph.nodes[node]["end"]) for node in graph}
    edges = {(name[parent], name[child]) for parent, child in graph.edges}
    return nodes, edges, [{old: name[new] for old, new in mapping.items()} for mapping in relabel]


@settings(max_examples=300, deadline=None)
@given(
    present=st.lists(st.sets(st.integers(1, 7), max_size=5), min_size=1, max_size=9),
    parents=st.dictionaries(st.integers(1, 9), st.integers(0, 9), max_size=9),
)
def test_frame_by_frame_reconciliation_gives_the_whole_sequence_rules_result(present, parents):
    """Any presence (gaps, labels missing from every frame or from the lineage) and any lineage
    (chains, cycles, many children): the same tracks, parents and relabellings as the rules applied
    to the whole sequence, up to the numbers given to new labels."""
    lineage = nx.DiGraph()
    lineage.add_nodes_from(parents)
    lineage.add_edges_from((parent, child) for child, parent in parents.items() if parent)
    result, relabel = reconcile(present, lineage)
    assert canonical(result, relabel) == canonical(*reference_reconcile(present, lineage))
    assert all(result.out_degree(node) <= 2 and result.in_degree(node) <= 1 for node in result)


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
@given(
    frames=FRAMES,
    window=st.integers(1, 3),
    border=st.sampled_from([0.0, 1.5]),
    flicker=st.integers(0, 2),
    min_area=st.sampled_from([0.0, 5.0]),
)
@example(  # two new tracks both out from under one cell that ended before the mother: she continues once
    frames=[
        [(1, 0, 0, 1, 1), (2, 5, 4, 3, 5)],
        [],
        [(3, 0, 0, 1, 1), (3, 3, 0, 3, 6)],
        [(1, 0, 0, 1, 1), (2, 5, 4, 3, 5), (1, 5, 5, 2, 4)],
    ],
    window=1,
    border=0.0,
    flicker=0,
    min_area=0.0,
)
def test_random_stacks_come_out_valid_with_at_most_two_children_right_after_the_mother(
    frames, window, border, flicker, min_area
):
    """Appearing, vanishing, splitting, merging and gapped objects: lineage output always passes the CTC
    rules, no track has more than two children, daughters begin within the window after their mother
    (a cell back from under a neighbour's mask within the hidden window), and a pixel is added only
    where a filled gap holds its cell's mask from a frame nearby."""
    stack = stack_of(*frames)
    rules = LineageRules(
        parent_window=window, flicker_length=flicker, daughter_area=(0.0, 99.0), min_daughter_overlap=0.0
    )
    result, tracks = build_lineage(stack, rules, (border, border), min_cell_area=min_area)
    assert write_and_validate(result, tracks) == []
    reach = max(window, rules.hidden_window)
    for frame, row, col in zip(*np.nonzero((result > 0) & (stack == 0))):  # only a filled gap adds pixels
        near = result[max(0, frame - reach + 1) : frame + reach, row, col]
        assert np.count_nonzero(near == result[frame, row, col]) > 1
    graph = graph_from_tracks(tracks)
    assert nx.is_directed_acyclic_graph(graph) and all(graph.in_degree(node) <= 1 for node in graph)
    assert all(graph.out_degree(node) <= 2 for node in graph)
    for mother, daughter in graph.edges:
        limit = window if graph.out_degree(mother) == 2 else reach
        assert 0 < graph.nodes[daughter]["begin"] - graph.nodes[mother]["end"] <= limit


@settings(max_examples=40, deadline=None)
@given(frames=FRAMES, data=st.data())
def test_objects_vanishing_after_lineage_are_reconciled_into_valid_tracks(frames, data):
    """What upsampling may do: any objects lose all pixels in any frames; tracks are repaired, never into three children."""
    stack, tracks = build_lineage(stack_of(*frames), LineageRules(parent_window=2))
    for frame in stack:
        for label in labels_present(frame):
            if data.draw(st.booleans(), label=f"drop {label} from a frame"):
                frame[frame == label] = 0
    graph, relabel = reconcile([set(labels_present(frame).tolist()) for frame in stack], graph_from_tracks(tracks))
    for frame, mapping in zip(stack, relabel):
        relabel_frame(frame, mapping)
    assert write_and_validate(stack, tracks_from_graph(graph)) == []
    assert all(graph.out_degree(node) <= 2 for node in graph)
