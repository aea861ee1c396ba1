"""Lineage: tracks, parents and the CTC consistency rules, on a networkx DiGraph.

Nodes are track labels with ``begin``/``end`` frames; an edge goes from parent to child. The CTC
rules this module guarantees: every label occupies one unbroken range of frames, a parent ends
before any of its children begins, and every listed track has pixels.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Sequence

import networkx as nx
import numpy as np
from scipy import ndimage

from ctc_submit.io import Track

MIN_PARENT_IOU = 0.1
PARENT_DILATION = 1


def presence(stack: Iterable[np.ndarray]) -> list[set[int]]:
    """The non-zero labels present in each frame."""
    return [set(np.unique(frame).tolist()) - {0} for frame in stack]


def graph_from_tracks(tracks: Iterable[Track]) -> nx.DiGraph:
    graph = nx.DiGraph()
    tracks = list(tracks)
    for track in tracks:
        graph.add_node(track.label, begin=track.begin, end=track.end)
    for track in tracks:
        if track.parent:
            graph.add_edge(track.parent, track.label)
    return graph


def tracks_from_graph(graph: nx.DiGraph) -> list[Track]:
    tracks = []
    for label, node in graph.nodes(data=True):
        parents = list(graph.predecessors(label))
        tracks.append(Track(label, node["begin"], node["end"], parents[0] if parents else 0))
    return sorted(tracks)


def count_divisions(tracks: Iterable[Track]) -> int:
    """Tracks with two or more children (a gap link has one child and is not a division)."""
    children: dict[int, int] = defaultdict(int)
    for track in tracks:
        if track.parent:
            children[track.parent] += 1
    return sum(count >= 2 for count in children.values())


def _runs(frames: list[int]) -> list[tuple[int, int]]:
    """Maximal ranges of consecutive frames, as (first, last)."""
    runs = []
    start = previous = frames[0]
    for frame in frames[1:]:
        if frame != previous + 1:
            runs.append((start, previous))
            start = frame
        previous = frame
    runs.append((start, previous))
    return runs


def reconcile(present: Sequence[set[int]], graph: nx.DiGraph) -> tuple[nx.DiGraph, list[dict[int, int]]]:
    """Tracks that agree with the pixels: the lineage ``graph`` rebuilt from what each frame holds.

    A label absent from every frame is dropped and its children re-pointed to its nearest
    surviving ancestor; a label that reappears after a gap continues as a new label whose parent
    is the part before the gap; labels with no node in ``graph`` start parentless tracks. Returns
    the new graph and, per frame, the relabelling {old: new} that the frames need.
    """
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
        for first, last in _runs(frames_of[label]):
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
            if earlier:
                result.add_edge(earlier[-1], label)
    return result, relabel


def apply_relabel(stack: np.ndarray, relabel: Sequence[dict[int, int]]) -> None:
    """Relabel the frames of ``stack`` in place with per-frame {old: new} maps."""
    for frame, mapping in zip(stack, relabel):
        for old, new in mapping.items():
            frame[frame == old] = new


def remove_border_objects(stack: np.ndarray, band: tuple[float, float]) -> None:
    """Zero, in place, each object lying entirely within ``band`` (rows, columns) pixels of the edge.

    Such objects are cut by the field of view and are not annotated in the ground truth.
    """
    height, width = stack.shape[1:]
    rows = np.arange(height) + 0.5
    cols = np.arange(width) + 0.5
    inner = np.outer((rows >= band[0]) & (rows <= height - band[0]), (cols >= band[1]) & (cols <= width - band[1]))
    for frame in stack:
        labels = np.unique(frame)
        inside = np.unique(frame[inner])
        for label in np.setdiff1d(labels[labels > 0], inside):
            frame[frame == label] = 0


def _cut(stack: np.ndarray, graph: nx.DiGraph, label: int, begin: int, new: int) -> None:
    """End track ``label`` at ``begin - 1``; its frames from ``begin`` on continue as ``new``, its child."""
    end = graph.nodes[label]["end"]
    for frame in stack[begin : end + 1]:
        frame[frame == label] = new
    graph.add_node(new, begin=begin, end=end)
    graph.nodes[label]["end"] = begin - 1
    for child in list(graph.successors(label)):
        graph.remove_edge(label, child)
        graph.add_edge(new, child)
    graph.add_edge(label, new)


def best_parent(stack: np.ndarray, label: int, begin: int, window: int, dilation: int, min_iou: float) -> int:
    """The label of highest IoU with ``label``'s first mask in the ``window`` frames before; 0 below ``min_iou``."""
    mask = stack[begin] == label
    if dilation:
        mask = ndimage.binary_dilation(mask, iterations=dilation)
    area = int(mask.sum())
    best, best_iou = 0, -1.0
    for frame in stack[max(0, begin - window) : begin][::-1]:
        areas = np.bincount(frame.ravel())
        intersections = np.bincount(frame[mask], minlength=len(areas))
        intersections[0] = 0
        ious = intersections / (area + areas - intersections)
        candidate = int(np.argmax(ious))
        if ious[candidate] > best_iou:
            best, best_iou = candidate, float(ious[candidate])
    return best if best_iou >= min_iou and best_iou > 0 else 0


def assign_parents(stack: np.ndarray, graph: nx.DiGraph, window: int, dilation: int, min_iou: float) -> None:
    """Give each parentless track that starts after frame 0 the best-overlapping earlier label as parent.

    When the parent still exists where the child starts (the mother kept her label as one of the
    daughters), the parent is cut there and its remainder becomes a sibling of the child.
    """
    next_label = max(graph.nodes, default=0) + 1
    for label in sorted(graph.nodes, key=lambda node: (graph.nodes[node]["begin"], node)):
        begin = graph.nodes[label]["begin"]
        if begin == 0 or graph.in_degree(label):
            continue
        parent = best_parent(stack, label, begin, window, dilation, min_iou)
        if not parent:
            continue
        if graph.nodes[parent]["end"] >= begin:
            _cut(stack, graph, parent, begin, next_label)
            next_label += 1
        graph.add_edge(parent, label)


def drop_short_roots(stack: np.ndarray, graph: nx.DiGraph, min_length: int) -> None:
    """Remove parentless tracks shorter than ``min_length`` frames (spurious detections); children become roots."""
    for label in [node for node in graph.nodes if not graph.in_degree(node)]:
        node = graph.nodes[label]
        if node["end"] - node["begin"] + 1 < min_length:
            for frame in stack[node["begin"] : node["end"] + 1]:
                frame[frame == label] = 0
            graph.remove_node(label)


def compact(stack: np.ndarray, graph: nx.DiGraph) -> nx.DiGraph:
    """Renumber tracks 1..N in order of their first frame, in place for ``stack``."""
    order = sorted(graph.nodes, key=lambda node: (graph.nodes[node]["begin"], node))
    lookup = np.zeros(max(order, default=0) + 1, dtype=stack.dtype)
    lookup[order] = np.arange(1, len(order) + 1)
    stack[...] = lookup[stack]
    return nx.relabel_nodes(graph, {old: int(lookup[old]) for old in order})


def build_lineage(
    stack: np.ndarray,
    parent_window: int,
    border_band: tuple[float, float] = (0.0, 0.0),
    dilation: int = PARENT_DILATION,
    min_iou: float = MIN_PARENT_IOU,
    min_length: int = 1,
) -> tuple[np.ndarray, list[Track]]:
    """Merged labels (T, H, W) in, CTC-consistent labels and tracks out (frames counted from 0)."""
    stack = np.array(stack, dtype=np.int32)
    if any(band > 0 for band in border_band):
        remove_border_objects(stack, border_band)
    graph, relabel = reconcile(presence(stack), nx.DiGraph())
    apply_relabel(stack, relabel)
    assign_parents(stack, graph, parent_window, dilation, min_iou)
    if min_length > 1:
        drop_short_roots(stack, graph, min_length)
    graph = compact(stack, graph)
    return stack, tracks_from_graph(graph)
