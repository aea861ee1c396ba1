"""Lineage: tracks, parents and the CTC consistency rules, on a networkx DiGraph.

Nodes are track labels with ``begin``/``end`` frames; an edge goes from parent to child. The CTC
rules this module guarantees: every label occupies one unbroken range of frames, a parent ends
before any of its children begins, and every listed track has pixels.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable

import networkx as nx
import numpy as np
from scipy import ndimage

from ctc_submit.io import Track
from ctc_submit.overlap import overlap
from ctc_submit.presets import Preset
from ctc_submit.validate import frame_runs, labels_present


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


def lineage_counts(tracks: Iterable[Track], short_length: int = 2) -> dict[str, int]:
    """What a biologist checks first: tracks, divisions, tracks of at most ``short_length`` frames, most children."""
    tracks = list(tracks)
    children: dict[int, int] = defaultdict(int)
    for track in tracks:
        if track.parent:
            children[track.parent] += 1
    return {
        "tracks": len(tracks),
        "divisions": count_divisions(tracks),
        "short_tracks": sum(track.end - track.begin + 1 <= short_length for track in tracks),
        "max_children": max(children.values(), default=0),
    }


def split_runs(stack: np.ndarray) -> nx.DiGraph:
    """One track per unbroken run of frames of each label, relabelled in place: a label's first run
    keeps it, its later runs take new labels above every label of ``stack``, label by label.

    The runs are not linked: a label back after a gap is judged by :func:`link_tracks` like any new track.
    """
    frames_of: dict[int, list[int]] = defaultdict(list)
    for index, frame in enumerate(stack):
        for label in labels_present(frame):
            frames_of[int(label)].append(index)
    graph = nx.DiGraph()
    next_label = int(stack.max(initial=0)) + 1
    for label in sorted(frames_of):
        for run, (first, last) in enumerate(frame_runs(frames_of[label])):
            new = label
            if run:
                new, next_label = next_label, next_label + 1
                for frame in stack[first : last + 1]:
                    frame[frame == label] = new
            graph.add_node(new, begin=first, end=last)
    return graph


class Reconciler:
    """Tracks that agree with the pixels, settled one frame at a time, so each frame can be written once.

    Fed each frame's labels in order, :meth:`frame` returns the relabelling {old: new} that frame
    needs, which depends only on the frames fed so far: a label that reappears after a gap continues,
    from the gap on, as a new label whose parent is the part before the gap (new labels count up from
    ``first_new``, above every label fed, in order of reappearance and then of label). :meth:`graph`
    then gives the ``lineage`` rebuilt from what the frames held: a label absent from every frame is
    dropped and its children re-pointed to its nearest surviving ancestor, unless that would give it
    more than two children (they become roots); labels with no node in ``lineage`` start parentless
    tracks. It holds three numbers per unbroken run of a label, never a frame.
    """

    def __init__(self, lineage: nx.DiGraph, first_new: int) -> None:
        self.lineage = lineage
        self.first_new = first_new
        self.next_label = first_new
        self.frames = 0
        self.runs: dict[int, list[list[int]]] = {}  # label -> [first frame, last frame, label written] per run

    def frame(self, labels: Iterable[int]) -> dict[int, int]:
        """The relabelling {old: new} of the next frame, which holds ``labels``."""
        index = self.frames
        self.frames += 1
        relabel = {}
        for label in sorted(int(label) for label in labels):
            if label >= self.first_new:
                raise ValueError(f"label {label} is not below the first new label {self.first_new}")
            runs = self.runs.setdefault(label, [])
            if runs and runs[-1][1] == index - 1:
                runs[-1][1] = index
            else:
                new = label
                if runs:
                    new, self.next_label = self.next_label, self.next_label + 1
                runs.append([index, index, new])
            if runs[-1][2] != label:
                relabel[label] = runs[-1][2]
        return relabel

    def graph(self) -> nx.DiGraph:
        """The tracks of the frames fed so far, as a graph of ``begin``/``end`` nodes and parent-child edges."""
        result = nx.DiGraph()
        for label in sorted(self.runs):
            previous = None
            for first, last, new in self.runs[label]:
                if previous is not None:
                    result.add_edge(previous, new)
                result.add_node(new, begin=first, end=last)
                previous = new
        for label in sorted(self.runs):
            parent = self._surviving_parent(label)
            if parent:
                begin = self.runs[label][0][0]
                earlier = [new for first, last, new in self.runs[parent] if last < begin]
                if earlier and result.out_degree(earlier[-1]) < 2:
                    result.add_edge(earlier[-1], label)
        return result

    def _surviving_parent(self, label: int) -> int:
        """The nearest ancestor of ``label`` in the lineage that some frame holds; 0 if none."""
        seen = {label}
        parents = list(self.lineage.predecessors(label)) if label in self.lineage else []
        while parents and parents[0] not in self.runs and parents[0] not in seen:
            seen.add(parents[0])
            parents = list(self.lineage.predecessors(parents[0]))
        return parents[0] if parents and parents[0] in self.runs else 0


class OverlapLinker:
    """Labels for objects found beside the network's (:func:`ctc_submit.tracking.intensity.signal_cells`),
    linked one frame at a time: an object continues the label of the previous frame's object it
    shares the most pixels with, where they are at least ``min_share`` of the smaller of the two and
    no larger overlap claimed that label first; any other object takes a label from ``new_label``.
    It holds the previous frame's objects."""

    def __init__(self, new_label: Callable[[], int], min_share: float = 0.25) -> None:
        self.new_label = new_label
        self.min_share = min_share
        self.previous = np.zeros((0, 0), dtype=np.int64)

    def frame(self, regions: np.ndarray) -> np.ndarray:
        """The labels (0 elsewhere) of ``regions``' objects 1..n (0 = none) in the next frame."""
        count = int(regions.max(initial=0))
        continued: dict[int, int] = {}
        if count and self.previous.shape == regions.shape:
            pairs = overlap(regions, self.previous)
            smaller = np.minimum(pairs.gt_sizes[pairs.pair_gt], pairs.res_sizes[pairs.pair_res])
            claimed: set[int] = set()
            for index in np.argsort(-pairs.pair_size, kind="stable"):
                region, earlier = (
                    int(pairs.gt_labels[pairs.pair_gt[index]]),
                    int(pairs.res_labels[pairs.pair_res[index]]),
                )
                if (
                    region in continued
                    or earlier in claimed
                    or pairs.pair_size[index] < self.min_share * smaller[index]
                ):
                    continue
                continued[region] = earlier
                claimed.add(earlier)
        lookup = np.zeros(count + 1, dtype=np.int64)
        for region in range(1, count + 1):
            lookup[region] = continued.get(region) or self.new_label()
        labelled = lookup[regions]
        self.previous = labelled
        return labelled


def relabel_frame(frame: np.ndarray, relabel: dict[int, int]) -> None:
    """Apply {old: new} to ``frame`` in place (new labels must not be in use there)."""
    for old, new in relabel.items():
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


def remove_small_cells(stack: np.ndarray, min_area: float) -> None:
    """Zero, in place, each label whose largest mask in any frame is below ``min_area`` pixels.

    The largest mask, not each one: a cell entering or leaving the field of view is small only in
    some of its frames, while an over-split fragment or a speck of debris is small in all of them.
    """
    if min_area <= 0:
        return
    largest = np.zeros(int(stack.max(initial=0)) + 1, dtype=np.int64)
    for frame in stack:
        counts = np.bincount(frame.ravel(), minlength=len(largest))
        np.maximum(largest, counts, out=largest)
    remove_labels(stack, np.flatnonzero(largest < min_area))


def remove_labels(frames: Iterable[np.ndarray], labels: np.ndarray) -> None:
    """Zero, in place in every frame, the pixels of ``labels`` (0 among them is ignored)."""
    labels = labels[labels > 0]
    if labels.size:
        for frame in frames:
            frame[np.isin(frame, labels)] = 0


@dataclass(frozen=True)
class LineageRules:
    """What makes a division, a continuation, a flicker and a closed gap (the preset's thresholds; see :func:`rules_of`).

    A division is exactly two daughters that begin together within ``parent_window`` frames after
    the mother ends, each with ``min_daughter_overlap`` of its first mask inside the mother's last
    (dilated by ``dilation``), an area between ``daughter_area`` times the mother's, and no flicker;
    the mother has rounded up: her smallest area over her last ``mitotic_frames`` frames (0: not
    looked at) is at most ``mitotic_area`` times her median area. A track of at most
    ``flicker_length`` frames that neither starts nor ends the sequence is a flicker. A gap link is
    closed when at least ``gap_fill_background`` of the missed cell's mask lies on background.
    A division moves a frame earlier when the next frame pair gives each daughter at least
    ``early_split_share`` of the mother's last mask. A daughter whose first mask has
    ``hidden_min_iou`` with the last mask of a childless track that ended at most
    ``hidden_window`` frames before is that cell, out from under the mother's mask: no division.
    """

    parent_window: int = 3
    daughter_area: tuple[float, float] = (Preset.min_daughter_area, Preset.max_daughter_area)
    min_daughter_overlap: float = Preset.min_daughter_overlap
    mitotic_area: float = Preset.mitotic_area
    mitotic_frames: int = Preset.mitotic_frames
    flicker_length: int = Preset.flicker_length
    dilation: int = Preset.parent_dilation
    min_iou: float = Preset.parent_min_iou
    gap_min_iou: float = Preset.gap_min_iou
    gap_fill_background: float = Preset.gap_fill_background
    neighbour_distance: int = Preset.flicker_neighbour_distance
    early_split_share: float = Preset.early_split_share
    hidden_window: int = Preset.hidden_window
    hidden_min_iou: float = Preset.hidden_min_iou


def rules_of(preset: Preset) -> LineageRules:
    return LineageRules(
        parent_window=preset.parent_window,
        daughter_area=(preset.min_daughter_area, preset.max_daughter_area),
        min_daughter_overlap=preset.min_daughter_overlap,
        mitotic_area=preset.mitotic_area,
        mitotic_frames=preset.mitotic_frames,
        flicker_length=preset.flicker_length,
        dilation=preset.parent_dilation,
        min_iou=preset.parent_min_iou,
        gap_min_iou=preset.gap_min_iou,
        gap_fill_background=preset.gap_fill_background,
        neighbour_distance=preset.flicker_neighbour_distance,
        early_split_share=preset.early_split_share,
        hidden_window=preset.hidden_window,
        hidden_min_iou=preset.hidden_min_iou,
    )


def _relabel_track(stack: np.ndarray, graph: nx.DiGraph, label: int, into: int) -> None:
    """Track ``label`` continues track ``into`` (which ends right before it): one label, one node."""
    node = graph.nodes[label]
    for frame in stack[node["begin"] : node["end"] + 1]:
        frame[frame == label] = into
    graph.nodes[into]["end"] = node["end"]
    for child in list(graph.successors(label)):
        graph.add_edge(into, child)
    graph.remove_node(label)


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
    best, best_iou = 0, 0.0
    for frame in stack[max(0, begin - window) : begin][::-1]:
        pairs = overlap(mask, frame)
        if pairs.pair_size.size:
            ious = pairs.ious()
            candidate = int(np.argmax(ious))
            if ious[candidate] > best_iou:
                best, best_iou = int(pairs.res_labels[pairs.pair_res[candidate]]), float(ious[candidate])
    return best if best_iou >= min_iou else 0


def iou(first: np.ndarray, second: np.ndarray) -> float:
    """IoU of two masks."""
    ious = overlap(first, second).ious()
    return float(ious[0]) if ious.size else 0.0


def _length(graph: nx.DiGraph, label: int) -> int:
    return graph.nodes[label]["end"] - graph.nodes[label]["begin"] + 1


def _is_flicker(graph: nx.DiGraph, label: int, frames: int, rules: LineageRules) -> bool:
    node = graph.nodes[label]
    return _length(graph, label) <= rules.flicker_length and node["begin"] > 0 and node["end"] < frames - 1


def _same_cell_after_gap(stack: np.ndarray, graph: nx.DiGraph, label: int, rules: LineageRules) -> int:
    """The track beginning within ``parent_window`` frames after ``label`` ends, where it ended (IoU of
    the last and first masks at least ``gap_min_iou``): the same cell, missed for a frame or two; else 0."""
    end = graph.nodes[label]["end"]
    last = stack[end] == label
    for t in range(end + 1, min(len(stack), end + 1 + rules.parent_window)):
        starting = [other for other in np.unique(stack[t][last]).tolist() if other and graph.nodes[other]["begin"] == t]
        ious = {other: iou(last, stack[t] == other) for other in starting}
        best = max(ious, key=lambda other: (ious[other], -other), default=0)
        if best and ious[best] >= rules.gap_min_iou:
            return best
    return 0


def is_division(mother: np.ndarray, daughters: list[np.ndarray], rules: LineageRules) -> bool:
    """Two daughters, each overlapping the mother's last mask and of a plausible size next to it."""
    if len(daughters) != 2:
        return False
    grown = ndimage.binary_dilation(mother, iterations=rules.dilation) if rules.dilation else mother
    area = np.count_nonzero(mother)
    low, high = rules.daughter_area
    for daughter in daughters:
        size = np.count_nonzero(daughter)
        if not size or not low <= size / area <= high:
            return False
        if np.count_nonzero(daughter & grown) < rules.min_daughter_overlap * size:
            return False
    return True


def merge_flickers(stack: np.ndarray, graph: nx.DiGraph, rules: LineageRules) -> None:
    """Give a flicker track that touches another object in each of its frames to that object (an over-split cell)."""
    for label in sorted(graph.nodes):
        if not _is_flicker(graph, label, len(stack), rules) or graph.degree(label):
            continue
        node = graph.nodes[label]
        targets = []
        for frame in stack[node["begin"] : node["end"] + 1]:
            ring = ndimage.binary_dilation(frame == label) & (frame != label) & (frame > 0)
            if not ring.any():
                break
            targets.append(int(np.bincount(frame[ring]).argmax()))
        else:
            for frame, target in zip(stack[node["begin"] : node["end"] + 1], targets):
                frame[frame == label] = target
            graph.remove_node(label)


def link_tracks(stack: np.ndarray, graph: nx.DiGraph, rules: LineageRules) -> None:
    """Parents for the tracks that begin after frame 0, one frame at a time.

    The new tracks of a frame are grouped by the earlier label they overlap best (their mother
    candidate). A mother still present beside one new track divides when the pair passes
    :func:`is_division` (she is cut there); a mother that has ended divides into exactly two
    such candidates. Otherwise the best-overlapping candidate continues her: under her label
    when it begins right after her, through a gap link when it reappears where she was; the
    other candidates stay new, unrelated tracks. A track that already has children gets no more.
    """
    next_label = max(graph.nodes, default=0) + 1
    for begin in range(1, len(stack)):
        new = [
            label
            for label in sorted(graph.nodes)
            if graph.nodes[label]["begin"] == begin and not graph.in_degree(label)
        ]
        by_mother: dict[int, list[int]] = defaultdict(list)
        for label in new:
            mother = best_parent(stack, label, begin, rules.parent_window, rules.dilation, rules.min_iou)
            if mother and not graph.out_degree(mother):
                by_mother[mother].append(label)
        for mother, candidates in by_mother.items():
            if graph.nodes[mother]["end"] >= begin:
                if len(candidates) == 1 and _splits_off(stack, graph, mother, candidates[0], begin, rules):
                    hidden = _hidden_cell(stack, graph, candidates[0], begin, mother, rules)
                    if hidden:
                        _continue(stack, graph, hidden, candidates[0], begin, mother)
                        continue
                    _cut(stack, graph, mother, begin, next_label)
                    graph.add_edge(mother, candidates[0])
                    next_label += 1
                elif len(candidates) == 1 and _hands_over(stack, graph, mother, candidates[0], begin, rules):
                    _take_over(stack, graph, mother, candidates[0], begin)
            else:
                _follow_ended_mother(stack, graph, mother, candidates, begin, rules)


def _rounded_up(stack: np.ndarray, graph: nx.DiGraph, mother: int, last: int, rules: LineageRules) -> bool:
    """Whether ``mother`` shrank, within her last ``mitotic_frames`` frames up to ``last``, to
    ``mitotic_area`` of her median area: a cell rounds up to divide, two cells under one mask that
    come apart do not. Not judged (true) for ``mitotic_frames`` 0, nor for a mother seen only in
    those frames from the first one: she may have rounded up before the video began."""
    begin = graph.nodes[mother]["begin"]
    if not rules.mitotic_frames or (begin == 0 and last < rules.mitotic_frames):
        return True
    areas = [np.count_nonzero(frame == mother) for frame in stack[begin : last + 1]]
    return bool(min(areas[-rules.mitotic_frames :]) <= rules.mitotic_area * float(np.median(areas)))


def _lasting(stack: np.ndarray, graph: nx.DiGraph, labels: Iterable[int], rules: LineageRules) -> bool:
    """Whether each of ``labels`` is a cell that is no flicker, counting the tracks that continue it
    after a gap: a daughter the segmentation misses for a frame right after she appears still lasts."""
    for label in labels:
        begin, end, following = graph.nodes[label]["begin"], graph.nodes[label]["end"], label
        while end - begin + 1 <= rules.flicker_length and end < len(stack) - 1:
            following = _same_cell_after_gap(stack, graph, following, rules)
            if not following:
                return bool(begin == 0)
            end = graph.nodes[following]["end"]
    return True


def _hands_over(stack: np.ndarray, graph: nx.DiGraph, mother: int, label: int, begin: int, rules: LineageRules) -> bool:
    """Whether new track ``label`` takes over from ``mother``, whom she appeared beside: the mother's
    remainder is a flicker (at most ``flicker_length`` frames, not the video's last) while the new
    track lasts beyond it; the remainder is a fragment of the same cell."""
    end = graph.nodes[mother]["end"]
    return (
        end - begin + 1 <= rules.flicker_length
        and end < len(stack) - 1
        and graph.nodes[label]["end"] > end
        and _lasting(stack, graph, [label], rules)
    )


def _take_over(stack: np.ndarray, graph: nx.DiGraph, mother: int, label: int, begin: int) -> None:
    """Join the mother's masks from ``begin`` on to track ``label``, which then continues her."""
    for frame in stack[begin : graph.nodes[mother]["end"] + 1]:
        frame[frame == mother] = label
    graph.nodes[mother]["end"] = begin - 1
    _relabel_track(stack, graph, label, mother)


def _splits_off(stack: np.ndarray, graph: nx.DiGraph, mother: int, label: int, begin: int, rules: LineageRules) -> bool:
    """Whether new track ``label`` and the mother's own mask at ``begin`` are her two daughters (she kept her label)."""
    end = graph.nodes[mother]["end"]
    remainder_lasts = end - begin + 1 > rules.flicker_length or end == len(stack) - 1
    daughters = [stack[begin] == mother, stack[begin] == label]
    return (
        remainder_lasts
        and _lasting(stack, graph, [label], rules)
        and _rounded_up(stack, graph, mother, begin - 1, rules)
        and is_division(stack[begin - 1] == mother, daughters, rules)
    )


def _follow_ended_mother(
    stack: np.ndarray, graph: nx.DiGraph, mother: int, candidates: list[int], begin: int, rules: LineageRules
) -> None:
    """Two plausible daughters, or else the best candidate continues the mother (the others stay unrelated)."""
    end = graph.nodes[mother]["end"]
    last = stack[end] == mother
    firsts = {label: stack[begin] == label for label in candidates}
    if (
        _lasting(stack, graph, candidates, rules)
        and is_division(last, list(firsts.values()), rules)
        and _rounded_up(stack, graph, mother, end, rules)
    ):
        left = _continue_hidden(stack, graph, candidates, begin, mother, rules)
        if len(left) == len(candidates):  # no cell came out from under her: her daughters
            graph.add_edges_from((mother, label) for label in candidates)
            return
        candidates = left
        if not candidates:
            return
    best = max(candidates, key=lambda label: (iou(last, firsts[label]), -label))
    if end == begin - 1:
        _relabel_track(stack, graph, best, mother)
    elif iou(last, firsts[best]) >= rules.gap_min_iou:
        graph.add_edge(mother, best)


def _continue_hidden(
    stack: np.ndarray, graph: nx.DiGraph, candidates: list[int], begin: int, mother: int, rules: LineageRules
) -> list[int]:
    """Continue each candidate that is a cell out from under ``mother`` (:func:`_hidden_cell`), the
    closest match first, each earlier cell once; returns the candidates left."""
    left = list(candidates)
    while True:
        hidden = {label: _hidden_cell(stack, graph, label, begin, mother, rules) for label in left}
        matched = [
            (iou(stack[graph.nodes[earlier]["end"]] == earlier, stack[begin] == label), label, earlier)
            for label, earlier in hidden.items()
            if earlier
        ]
        if not matched:
            return left
        _, label, earlier = max(matched)
        _continue(stack, graph, earlier, label, begin, mother)
        left.remove(label)


def _hidden_cell(stack: np.ndarray, graph: nx.DiGraph, label: int, begin: int, mother: int, rules: LineageRules) -> int:
    """The childless track (not ``mother``) that ended at most ``hidden_window`` frames before ``begin``
    where new track ``label`` begins (IoU of its last mask and ``label``'s first at least
    ``hidden_min_iou``, the highest if several): a cell that went under a neighbour's mask and came
    out again; else 0."""
    first = stack[begin] == label
    best, best_iou = 0, rules.hidden_min_iou
    for earlier in sorted(graph.nodes):
        end = graph.nodes[earlier]["end"]
        if earlier in (mother, label) or graph.out_degree(earlier) or not begin - rules.hidden_window <= end < begin:
            continue
        value = iou(stack[end] == earlier, first)
        if value >= best_iou:
            best, best_iou = earlier, value
    return best


def _continue(stack: np.ndarray, graph: nx.DiGraph, earlier: int, label: int, begin: int, owner: int) -> None:
    """Track ``label`` is cell ``earlier`` again, out from under ``owner``'s mask: the same track if it
    begins right after her, else her gap link (noted for :func:`advance_divisions`)."""
    if graph.nodes[earlier]["end"] == begin - 1:
        _relabel_track(stack, graph, label, earlier)
    else:
        graph.add_edge(earlier, label)
        graph.nodes[label]["came_out_of"] = owner


def has_neighbour(stack: np.ndarray, graph: nx.DiGraph, label: int, distance: int) -> bool:
    """Whether track ``label`` comes within ``distance`` pixels of another object in one of its frames,
    or overlaps one in the frame before it begins or after it ends."""
    begin, end = graph.nodes[label]["begin"], graph.nodes[label]["end"]
    for t in range(begin, end + 1):
        mask = stack[t] == label
        near = ndimage.binary_dilation(mask, iterations=distance) if distance else mask
        around = stack[t][near]
        if ((around != label) & (around > 0)).any():
            return True
    before = stack[begin - 1][stack[begin] == label] if begin > 0 else np.zeros(0, stack.dtype)
    after = stack[end + 1][stack[end] == label] if end + 1 < len(stack) else np.zeros(0, stack.dtype)
    return bool(before.any() or after.any())


def drop_flickers(stack: np.ndarray, graph: nx.DiGraph, rules: LineageRules) -> None:
    """Remove unlinked flicker tracks next to another object: fragments and blips, not cells of their own."""
    for label in sorted(graph.nodes):
        if not _is_flicker(graph, label, len(stack), rules) or graph.degree(label):
            continue
        if has_neighbour(stack, graph, label, rules.neighbour_distance):
            for frame in stack[graph.nodes[label]["begin"] : graph.nodes[label]["end"] + 1]:
                frame[frame == label] = 0
            graph.remove_node(label)


def _carved(mask: np.ndarray, frame: np.ndarray, owner: int, share: float) -> np.ndarray:
    """The part of ``mask`` a missed cell takes back in ``frame``: its background, and the pixels of
    ``owner`` (the neighbour she hid under, 0 if none) where he keeps ``share`` of his own."""
    free = mask & (frame == 0)
    if owner:
        his = frame == owner
        if np.count_nonzero(his & ~mask) >= share * np.count_nonzero(his):
            free |= mask & his
    return free


def fill_gaps(stack: np.ndarray, graph: nx.DiGraph, rules: LineageRules) -> None:
    """Close the gap links of lasting cells: the cell the segmentation missed for a frame or two keeps
    its last mask there (its next one past the middle of the gap), and the two tracks become one.

    Only where ``gap_fill_background`` of that mask lies on background: a cell hidden under a
    neighbour's mask is not missing, and its gap stays. Gaps between flickers stay too.
    """
    for label in sorted(graph.nodes, key=lambda node: graph.nodes[node]["begin"], reverse=True):
        parents = list(graph.predecessors(label))
        if not parents or graph.out_degree(parents[0]) != 1:
            continue
        parent = parents[0]
        end, begin = graph.nodes[parent]["end"], graph.nodes[label]["begin"]
        if max(_length(graph, parent), _length(graph, label)) <= rules.flicker_length:
            continue
        last, first = stack[end] == parent, stack[begin] == label
        held = [last if t - end <= begin - t else first for t in range(end + 1, begin)]
        owner = graph.nodes[label].get("came_out_of", 0)
        free = [
            _carved(mask, frame, owner, rules.early_split_share) for mask, frame in zip(held, stack[end + 1 : begin])
        ]
        painted = [np.count_nonzero(mask) for mask in free]
        wanted = [rules.gap_fill_background * np.count_nonzero(mask) for mask in held]
        if all(count and count >= share for count, share in zip(painted, wanted)):
            for frame, mask in zip(stack[end + 1 : begin], free):
                frame[mask] = parent
            graph.nodes[parent]["end"] = begin - 1
            _relabel_track(stack, graph, label, parent)


def _in_labels_of(stack_frame: np.ndarray, merged_frame: np.ndarray, lookahead: np.ndarray) -> np.ndarray:
    """``lookahead`` (running labels of the merged frame) in the lineage's labels of that frame: each
    running label becomes the lineage label that covers most of it (the smaller label on a tie)."""
    shared = overlap(merged_frame, stack_frame)
    running, lineage = shared.gt_labels[shared.pair_gt], shared.res_labels[shared.pair_res]
    order = np.lexsort((lineage, -shared.pair_size, running))
    first = order[np.r_[True, running[order][1:] != running[order][:-1]]] if order.size else order
    translate = np.zeros(max(int(lookahead.max(initial=0)), int(merged_frame.max(initial=0))) + 1, lookahead.dtype)
    translate[running[first]] = lineage[first]
    return translate[lookahead]


def _split_mask(
    stack: np.ndarray,
    merged: np.ndarray,
    lookahead: np.ndarray,
    frame: int,
    owner: int,
    labels: list[int],
    share: float,
) -> bool:
    """Give ``owner``'s mask in ``frame`` to ``labels`` as the next frame pair sees it, if that pair
    gives each of them at least ``share`` of it (pixels it gives to none go to the nearer one)."""
    mask = stack[frame] == owner
    seen = _in_labels_of(stack[frame + 1], merged[frame + 1], np.where(mask, lookahead[frame], 0))
    parts = [mask & (seen == label) for label in labels]
    area = np.count_nonzero(mask)
    if area == 0 or min(np.count_nonzero(part) for part in parts) < share * area:
        return False
    nearest = ndimage.distance_transform_edt(~parts[0], return_distances=True) <= ndimage.distance_transform_edt(
        ~parts[1], return_distances=True
    )
    stack[frame][mask] = np.where(nearest[mask], labels[0], labels[1])
    return True


def advance_divisions(
    stack: np.ndarray, graph: nx.DiGraph, merged: np.ndarray, lookahead: np.ndarray, rules: LineageRules
) -> None:
    """Move a division a frame earlier where the next frame pair already splits the mother's last mask.

    A pair clusters each frame beside the next one; beside two daughters that have just come apart
    it splits the mask the previous pair kept whole. Where that split gives each daughter at least
    ``early_split_share`` of the mother's last mask, the mask becomes theirs and the mother ends a
    frame sooner; she keeps a frame. A cell that came out from under a neighbour's mask (see
    :func:`_hidden_cell`) takes her part of that mask the same way, a frame before she came out.
    """
    for mother in list(graph.nodes):
        daughters = list(graph.successors(mother))
        last = graph.nodes[mother]["end"]
        if len(daughters) != 2 or graph.nodes[mother]["begin"] >= last:
            continue
        if any(graph.nodes[daughter]["begin"] != last + 1 for daughter in daughters):
            continue
        if _split_mask(stack, merged, lookahead, last, mother, daughters, rules.early_split_share):
            graph.nodes[mother]["end"] = last - 1
            for daughter in daughters:
                graph.nodes[daughter]["begin"] = last
    for cell in list(graph.nodes):
        owner, begin = graph.nodes[cell].get("came_out_of"), graph.nodes[cell]["begin"]
        parents = list(graph.predecessors(cell))
        if owner not in graph or len(parents) != 1 or graph.nodes[parents[0]]["end"] >= begin - 1:
            continue
        if not graph.nodes[owner]["begin"] < begin <= graph.nodes[owner]["end"]:
            continue
        if _split_mask(stack, merged, lookahead, begin - 1, owner, [owner, cell], rules.early_split_share):
            graph.nodes[cell]["begin"] = begin - 1
            if graph.nodes[parents[0]]["end"] == begin - 2:
                _relabel_track(stack, graph, cell, parents[0])


def compact(stack: np.ndarray, graph: nx.DiGraph) -> nx.DiGraph:
    """Renumber tracks 1..N in order of their first frame, in place for ``stack``."""
    order = sorted(graph.nodes, key=lambda node: (graph.nodes[node]["begin"], node))
    lookup = np.zeros(max(order, default=0) + 1, dtype=stack.dtype)
    lookup[order] = np.arange(1, len(order) + 1)
    for frame in stack:  # a frame at a time: no second copy of the stack
        frame[...] = lookup[frame]
    return nx.relabel_nodes(graph, {old: int(lookup[old]) for old in order})


def build_lineage(
    stack: np.ndarray,
    rules: LineageRules = LineageRules(),
    border_band: tuple[float, float] = (0.0, 0.0),
    lookahead: np.ndarray | None = None,
    min_cell_area: float = 0.0,
) -> tuple[np.ndarray, list[Track]]:
    """Merged labels (T, H, W) in, CTC-consistent labels and tracks out (frames counted from 0).

    Flickers merge into the object they over-split, parents follow :func:`link_tracks`, the
    flickers left unlinked beside an earlier object go, and :func:`fill_gaps` closes the gaps of
    cells that last; no track ends up with more than two children. Objects never larger than
    ``min_cell_area`` pixels go first (:func:`remove_small_cells`). With the merge's ``lookahead``
    labels, :func:`advance_divisions` dates each division by the pair that first sees it.
    """
    merged = stack
    stack = np.array(stack, dtype=np.int32)
    if any(band > 0 for band in border_band):
        remove_border_objects(stack, border_band)
    remove_small_cells(stack, min_cell_area)
    graph = split_runs(stack)
    merge_flickers(stack, graph, rules)
    link_tracks(stack, graph, rules)
    drop_flickers(stack, graph, rules)
    fill_gaps(stack, graph, rules)
    if lookahead is not None:
        advance_divisions(stack, graph, np.asarray(merged), lookahead, rules)
    graph = compact(stack, graph)
    return stack, tracks_from_graph(graph)
