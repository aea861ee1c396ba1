"""TRA, DET and LNK: the cost of turning the result's tracking graph into the reference one.

Both graphs have a vertex per (time, label) and an edge per link: a label present in
two consecutive frames (continuation) or a ``P`` entry of the track file, from the
parent's last frame to the child's first (parent link, division or gap alike).
Reference vertices are the markers of ``man_trackT.tif``; a result vertex matches a
marker when it covers more than half of it. Then (Matula et al., PLoS ONE 2015):

- NS: a result vertex matching k >= 2 markers costs k - 1 splits (weight 5);
- FN: a marker nothing matches (10); FP: a result vertex matching no marker (1);
- edges are compared through result vertices matching exactly one marker: a result
  edge with no reference counterpart is deleted (ED, 1), a reference edge with no
  result counterpart is added (EA, 1.5), an edge of the wrong kind is relabelled (EC, 1).

Each measure is ``1 - min(cost, cost0) / cost0`` where cost0 builds the reference from
nothing (10 per vertex, 1.5 per edge).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from ctc_submit.io import CTCInputError, Track
from ctc_submit.overlap import Overlap

WEIGHT_NS, WEIGHT_FN, WEIGHT_FP = 5.0, 10.0, 1.0
WEIGHT_ED, WEIGHT_EA, WEIGHT_EC = 1.0, 1.5, 1.0

Node = tuple[int, int]  # (time, label)
Edge = tuple[Node, Node]


@dataclass(frozen=True)
class FrameMatch:
    """What the graph comparison keeps of one frame: labels present and marker -> result matches."""

    t: int
    gt_labels: np.ndarray
    res_labels: np.ndarray
    matched_gt: np.ndarray
    matched_res: np.ndarray


def frame_match(t: int, pairs: Overlap) -> FrameMatch:
    gt, res, _ = pairs.matches()
    return FrameMatch(t, pairs.gt_labels, pairs.res_labels, pairs.gt_labels[gt], pairs.res_labels[res])


@dataclass
class GraphErrors:
    """Every AOGM error, each with the vertices it concerns (result labels unless ``gt_`` named)."""

    splits: list[Node] = field(default_factory=list)
    gt_false_negatives: list[Node] = field(default_factory=list)
    false_positives: list[Node] = field(default_factory=list)
    edges_to_delete: list[Edge] = field(default_factory=list)
    gt_edges_to_add: list[Edge] = field(default_factory=list)
    wrong_semantics: list[Edge] = field(default_factory=list)
    gt_vertices: int = 0
    gt_edges: int | None = None  # None: links were not compared (detection only)

    def detection_cost(self, penalize_extra_detections: bool = True) -> float:
        fp_weight = WEIGHT_FP if penalize_extra_detections else 0.0
        return (
            WEIGHT_NS * len(self.splits)
            + WEIGHT_FN * len(self.gt_false_negatives)
            + fp_weight * len(self.false_positives)
        )

    def linking_cost(self) -> float:
        return (
            WEIGHT_ED * len(self.edges_to_delete)
            + WEIGHT_EA * len(self.gt_edges_to_add)
            + WEIGHT_EC * len(self.wrong_semantics)
        )

    def tra(self) -> float:
        return _normalise(
            self.detection_cost() + self.linking_cost(),
            WEIGHT_FN * self.gt_vertices + WEIGHT_EA * self._compared_edges(),
            "TRA",
        )

    def det(self, penalize_extra_detections: bool = True) -> float:
        return _normalise(self.detection_cost(penalize_extra_detections), WEIGHT_FN * self.gt_vertices, "DET")

    def lnk(self) -> float:
        return _normalise(self.linking_cost(), WEIGHT_EA * self._compared_edges(), "LNK")

    def _compared_edges(self) -> int:
        if self.gt_edges is None:
            raise ValueError("links were not compared: pass the track files to compare_graphs")
        return self.gt_edges


def _normalise(cost: float, empty_cost: float, name: str) -> float:
    if empty_cost == 0:
        raise CTCInputError(f"{name}: the reference tracking graph is empty, the measure is undefined")
    return 1.0 - min(cost, empty_cost) / empty_cost


def _edges(present: dict[int, np.ndarray], tracks: Iterable[Track]) -> dict[Edge, bool]:
    """Edges of one graph (labels present per frame, track file) -> True for a parent link, False for a continuation."""
    edges: dict[Edge, bool] = {}
    for t, labels in present.items():
        following = present.get(t + 1)
        if following is not None:
            for label in np.intersect1d(labels, following, assume_unique=True).tolist():
                edges[(t, label), (t + 1, label)] = False
    node_sets = {t: set(labels.tolist()) for t, labels in present.items()}
    by_label = {track.label: track for track in tracks}
    for track in by_label.values():
        parent = by_label.get(track.parent)
        if (
            parent is not None
            and parent.label in node_sets.get(parent.end, ())
            and track.label in node_sets.get(track.begin, ())
        ):
            edges[(parent.end, parent.label), (track.begin, track.label)] = True
    return edges


def compare_graphs(
    frames: Sequence[FrameMatch], tracks: tuple[Iterable[Track], Iterable[Track]] | None = None
) -> GraphErrors:
    """AOGM errors of the result graph against the reference one; edges too with (gt, res) ``tracks``."""
    errors = GraphErrors()
    unique: dict[Node, int] = {}  # result vertex -> the one marker it matches
    matched_gt: set[Node] = set()
    for frame in frames:
        t = frame.t
        errors.gt_vertices += frame.gt_labels.size
        counts = Counter(frame.matched_res.tolist())
        for label, k in sorted(counts.items()):
            errors.splits.extend([(t, label)] * (k - 1))
        for gt_label, res_label in zip(frame.matched_gt.tolist(), frame.matched_res.tolist()):
            matched_gt.add((t, gt_label))
            if counts[res_label] == 1:
                unique[t, res_label] = gt_label
        errors.gt_false_negatives.extend((t, g) for g in frame.gt_labels.tolist() if (t, g) not in matched_gt)
        errors.false_positives.extend((t, r) for r in frame.res_labels.tolist() if r not in counts)

    if tracks is None:
        return errors
    gt_edges = _edges({frame.t: frame.gt_labels for frame in frames}, tracks[0])
    res_edges = _edges({frame.t: frame.res_labels for frame in frames}, tracks[1])
    errors.gt_edges = len(gt_edges)
    found: set[Edge] = set()
    for (a, b), parent_link in sorted(res_edges.items()):
        if a not in unique or b not in unique:
            continue
        image = ((a[0], unique[a]), (b[0], unique[b]))
        if image not in gt_edges:
            errors.edges_to_delete.append((a, b))
            continue
        found.add(image)
        if gt_edges[image] != parent_link:
            errors.wrong_semantics.append((a, b))
    errors.gt_edges_to_add = sorted(edge for edge in gt_edges if edge not in found)
    return errors


def _vertex(node: Node, gt: bool) -> str:
    return f"T={node[0]} {'GT_label' if gt else 'Label'}={node[1]}"


def _edge(edge: Edge, gt: bool) -> str:
    return f"[{_vertex(edge[0], gt)}] -> [{_vertex(edge[1], gt)}]"


def _vertex_sections(errors: GraphErrors, fp_penalty: int) -> list[str]:
    return [
        "----------Splitting Operations (Penalty=5)----------",
        *(_vertex(node, False) for node in errors.splits),
        "----------False Negative Vertices (Penalty=10)----------",
        *(_vertex(node, True) for node in errors.gt_false_negatives),
        f"----------False Positive Vertices (Penalty={fp_penalty})----------",
        *(_vertex(node, False) for node in errors.false_positives),
    ]


def tra_log(errors: GraphErrors, value: float) -> str:
    """The official ``TRA_log.txt``: every error, by kind."""
    lines = [
        *_vertex_sections(errors, 1),
        "----------Redundant Edges To Be Deleted (Penalty=1)----------",
        *(_edge(edge, False) for edge in errors.edges_to_delete),
        "----------Edges To Be Added (Penalty=1.5)----------",
        *(_edge(edge, True) for edge in errors.gt_edges_to_add),
        "----------Edges with Wrong Semantics (Penalty=1)----------",
        *(_edge(edge, False) for edge in errors.wrong_semantics),
        "=" * 81,
        f"TRA measure: {value:.6f}",
    ]
    return "\n".join(lines) + "\n"


def det_log(errors: GraphErrors, value: float, penalize_extra_detections: bool = True) -> str:
    """The official ``DET_log.txt``: the vertex errors; false positives cost 0 when not penalised."""
    lines = [
        *_vertex_sections(errors, 1 if penalize_extra_detections else 0),
        "=" * 56,
        f"DET measure: {value:.6f}",
    ]
    return "\n".join(lines) + "\n"
