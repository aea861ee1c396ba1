"""AOGM errors on small hand-made sequences, and invariants on generated lineages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctc_submit.evaluation.aogm import compare_graphs, det_log, frame_match, tra_log
from ctc_submit.io import Track
from ctc_submit.overlap import overlap


def rows(*frames: list[int]) -> list[np.ndarray]:
    return [np.array([frame], np.uint16) for frame in frames]


def compare(gt_frames, res_frames, gt_tracks, res_tracks):
    frames = [frame_match(t, overlap(g, r)) for t, (g, r) in enumerate(zip(gt_frames, res_frames))]
    return compare_graphs(frames, (gt_tracks, res_tracks))


# Reference: cell 1 in frames 0-1 divides into 3 and 4 in frame 2; cell 2 lives in frames 0-2.
GT = rows([1, 1, 2, 2, 0, 0], [1, 1, 2, 2, 0, 0], [3, 4, 2, 2, 0, 0])
GT_TRACKS = [Track(1, 0, 1, 0), Track(2, 0, 2, 0), Track(3, 2, 2, 1), Track(4, 2, 2, 1)]
GT_VERTICES, GT_EDGES = 7, 5


def test_a_relabelled_copy_is_perfect():
    res = [np.where(frame > 0, frame + 10, 0).astype(np.uint16) for frame in GT]
    errors = compare(
        GT, res, GT_TRACKS, [Track(t.label + 10, t.begin, t.end, t.parent + 10 if t.parent else 0) for t in GT_TRACKS]
    )
    assert (errors.gt_vertices, errors.gt_edges) == (GT_VERTICES, GT_EDGES)
    assert errors.detection_cost() == errors.linking_cost() == 0
    assert errors.tra() == errors.det() == errors.lnk() == 1.0


def test_missing_division_link_costs_two_edges_to_add():
    res_tracks = [Track(1, 0, 1, 0), Track(2, 0, 2, 0), Track(3, 2, 2, 0), Track(4, 2, 2, 0)]
    errors = compare(GT, GT, GT_TRACKS, res_tracks)
    assert errors.gt_edges_to_add == [((1, 1), (2, 3)), ((1, 1), (2, 4))]
    assert errors.tra() == pytest.approx(1 - 3.0 / (10 * GT_VERTICES + 1.5 * GT_EDGES))
    assert errors.lnk() == pytest.approx(1 - 3.0 / (1.5 * GT_EDGES))
    assert errors.det() == 1.0


def test_a_merge_is_a_split_operation_and_its_links_are_not_compared():
    res = rows([1, 1, 2, 2, 0, 0], [1, 1, 2, 2, 0, 0], [5, 5, 2, 2, 0, 0])
    errors = compare(GT, res, GT_TRACKS, [Track(1, 0, 1, 0), Track(2, 0, 2, 0), Track(5, 2, 2, 1)])
    assert errors.splits == [(2, 5)]
    assert errors.edges_to_delete == []  # 1 -> 5 touches a vertex matching two markers
    assert errors.gt_edges_to_add == [((1, 1), (2, 3)), ((1, 1), (2, 4))]
    assert errors.det() == pytest.approx(1 - 5 / 70)


def test_false_positives_cost_once_and_their_links_nothing():
    res = rows([1, 1, 2, 2, 0, 9], [1, 1, 2, 2, 0, 9], [3, 4, 2, 2, 0, 0])
    errors = compare(GT, res, GT_TRACKS, GT_TRACKS + [Track(9, 0, 1, 0)])
    assert errors.false_positives == [(0, 9), (1, 9)]
    assert errors.linking_cost() == 0
    assert errors.det() == pytest.approx(1 - 2 / 70)
    assert errors.det(penalize_extra_detections=False) == 1.0


def test_a_continuation_linked_as_a_division_has_wrong_semantics():
    res = rows([1, 1, 2, 2, 0, 0], [1, 1, 2, 2, 0, 0], [3, 4, 7, 7, 0, 0])
    res_tracks = [Track(1, 0, 1, 0), Track(2, 0, 1, 0), Track(3, 2, 2, 1), Track(4, 2, 2, 1), Track(7, 2, 2, 2)]
    errors = compare(GT, res, GT_TRACKS, res_tracks)
    assert errors.wrong_semantics == [((1, 2), (2, 7))]
    assert errors.tra() == pytest.approx(1 - 1 / 77.5)


def test_a_gap_link_is_deleted_and_the_missed_frame_costs_its_links():
    res = rows([1, 1, 2, 2, 0, 0], [1, 1, 0, 0, 0, 0], [3, 4, 8, 8, 0, 0])
    res_tracks = [Track(1, 0, 1, 0), Track(2, 0, 0, 0), Track(3, 2, 2, 1), Track(4, 2, 2, 1), Track(8, 2, 2, 2)]
    errors = compare(GT, res, GT_TRACKS, res_tracks)
    assert errors.gt_false_negatives == [(1, 2)]
    assert errors.edges_to_delete == [((0, 2), (2, 8))]
    assert errors.gt_edges_to_add == [((0, 2), (1, 2)), ((1, 2), (2, 2))]
    assert errors.tra() == pytest.approx(1 - (10 + 1 + 3) / 77.5)


def test_an_empty_result_scores_zero():
    empty = [np.zeros_like(frame) for frame in GT]
    errors = compare(GT, empty, GT_TRACKS, [])
    assert errors.tra() == errors.det() == errors.lnk() == 0.0


def test_detection_only_comparison_refuses_link_measures():
    errors = compare_graphs([frame_match(0, overlap(GT[0], GT[0]))])
    assert errors.det() == 1.0
    with pytest.raises(ValueError, match="links were not compared"):
        errors.tra()


def test_logs_have_the_official_sections():
    errors = compare(GT, rows([1, 1, 2, 2, 0, 9], [1, 1, 0, 0, 0, 0], [5, 5, 2, 2, 0, 0]), GT_TRACKS,
                     [Track(1, 0, 1, 0), Track(2, 0, 0, 0), Track(5, 2, 2, 1), Track(9, 0, 0, 0)])  # fmt: skip
    log = tra_log(errors, errors.tra()).splitlines()
    assert log[0] == "----------Splitting Operations (Penalty=5)----------"
    assert log[1] == "T=2 Label=5"
    assert "T=1 GT_label=2" in log and "T=0 Label=9" in log
    assert "[T=0 GT_label=2] -> [T=1 GT_label=2]" in log
    assert log[-2] == "=" * 81 and log[-1] == f"TRA measure: {errors.tra():.6f}"
    det = det_log(errors, errors.det(False), penalize_extra_detections=False).splitlines()
    assert "----------False Positive Vertices (Penalty=0)----------" in det
    assert det[-2:] == ["=" * 56, f"DET measure: {errors.det(False):.6f}"]


@st.composite
def lineages(draw):
    """Tracks of one-pixel cells (column = label - 1) over a few frames, parents ending before children begin."""
    frames = draw(st.integers(2, 5))
    tracks: list[Track] = []
    for label in range(1, draw(st.integers(1, 7)) + 1):
        begin = draw(st.integers(0, frames - 1))
        end = draw(st.integers(begin, frames - 1))
        parents = [t.label for t in tracks if t.end < begin]
        parent = draw(st.sampled_from([0] + parents))
        tracks.append(Track(label, begin, end, parent))
    images = [np.zeros((1, len(tracks)), np.uint16) for _ in range(frames)]
    for track in tracks:
        for t in range(track.begin, track.end + 1):
            images[t][0, track.label - 1] = track.label
    return images, tracks


@settings(max_examples=80, deadline=None)
@given(lineages(), st.randoms(use_true_random=False))
def test_relabelling_changes_nothing(lineage, random):
    images, tracks = lineage
    new = list(range(100, 100 + len(tracks)))
    random.shuffle(new)
    lookup = np.array([0] + new, np.uint16)
    res = [lookup[image] for image in images]
    res_tracks = [Track(int(lookup[t.label]), t.begin, t.end, int(lookup[t.parent])) for t in tracks]
    errors = compare(images, res, tracks, res_tracks)
    assert errors.detection_cost() == errors.linking_cost() == 0


@settings(max_examples=80, deadline=None)
@given(lineages(), st.data())
def test_each_missed_vertex_costs_itself_and_its_links(lineage, data):
    images, tracks = lineage
    nodes = [(t, int(label)) for t, image in enumerate(images) for label in image[image > 0]]
    dropped = set(data.draw(st.lists(st.sampled_from(nodes), unique=True)) if nodes else [])
    res = [image.copy() for image in images]
    for t, label in dropped:
        res[t][res[t] == label] = 0
    # a dropped vertex splits its track: give every remaining run its own label, linked to nothing
    res_tracks, relabelled = [], []
    next_label = 1000
    for track in tracks:
        run = None
        for t in range(track.begin, track.end + 1):
            if (t, track.label) in dropped:
                run = None
                continue
            if run is None:
                next_label += 1
                run = next_label
                res_tracks.append(Track(run, t, t, 0))
            res_tracks[-1] = Track(run, res_tracks[-1].begin, t, 0)
            relabelled.append((t, track.label, run))
    for t, old, new in relabelled:
        res[t][images[t] == old] = new
    errors = compare(images, res, tracks, res_tracks)
    gt_edges = {(a, b) for a, b in _reference_edges(images, tracks)}
    lost = {(a, b) for a, b in gt_edges if a in dropped or b in dropped or (a[1] != b[1])}
    assert sorted(errors.gt_false_negatives) == sorted(dropped)
    assert errors.splits == errors.false_positives == errors.edges_to_delete == errors.wrong_semantics == []
    assert set(errors.gt_edges_to_add) == lost
    assert errors.gt_edges == len(gt_edges)


def _reference_edges(images, tracks):
    for t in range(len(images) - 1):
        for label in set(images[t][images[t] > 0].tolist()) & set(images[t + 1][images[t + 1] > 0].tolist()):
            yield (t, label), (t + 1, label)
    by_label = {track.label: track for track in tracks}
    for track in tracks:
        if track.parent:
            yield (by_label[track.parent].end, track.parent), (track.begin, track.label)
