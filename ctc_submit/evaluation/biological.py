"""The challenge's biological measures (CT, TF, BC(i), CCA, BIO, OP_CLB), CHOTA and division precision/recall.

TRA counts graph edits; a biologist reads whole tracks and lineage trees. These measures
score exactly that, from the same per-frame marker matches as TRA (a result object matches a
marker when it covers more than half of it):

- CT (complete tracks): 2 T_rc / (T_r + T_c), T_rc the reference tracks matched in all their
  frames by one result track that begins and ends where they do (Ulman et al. 2017);
- TF (track fractions): per reference track, the longest run of frames one result track
  follows it, as a fraction of its length; averaged over the tracks followed at all;
- BC(i) (branching correctness): F1 of the divisions, a result division matching a reference
  one when mother and daughters match within ``i`` frames of the reference's times;
- CCA (cell-cycle accuracy): 1 - the largest gap between the distributions of complete cell
  cycles (tracks born in and ending with a division) of reference and result;
- BIO(i): mean of those four that are defined; OP_CLB(i) = (LNK + BIO(i)) / 2 (Maška et al. 2023);
- CHOTA: HOTA's detection x association over whole lineages (Kaiser et al. 2024).

A result object matching several markers in a frame follows none of them (CT, TF, BC): it is a
merge, not a track. Every measure is ``None`` where it is undefined (BC with no reference
division, CCA with no reference cell cycle).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ctc_submit.evaluation.aogm import FrameMatch
from ctc_submit.io import Track


@dataclass(frozen=True)
class DivisionCounts:
    """Result divisions matching a reference one (tp), matching none (fp), and reference ones missed (fn)."""

    tp: int
    fp: int
    fn: int

    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def f1(self) -> float | None:
        """BC(i); undefined without reference divisions, 0 when none is found."""
        if self.tp + self.fn == 0:
            return None
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn)


class FrameMatches:
    """Per frame: reference label -> the result label following it, 0 when that object matches several markers."""

    def __init__(self, frames: Iterable[FrameMatch]) -> None:
        self.follows: dict[int, dict[int, int]] = {}
        self.gt_labels: dict[int, list[int]] = {}
        for frame in frames:
            uses = Counter(frame.matched_res.tolist())
            self.follows[frame.t] = {
                gt: (res if uses[res] == 1 else 0)
                for gt, res in zip(frame.matched_gt.tolist(), frame.matched_res.tolist())
            }
            self.gt_labels[frame.t] = frame.gt_labels.tolist()

    def follower(self, t: int, gt_label: int) -> int:
        return self.follows.get(t, {}).get(gt_label, 0)

    def frames_of(self) -> dict[int, list[int]]:
        """Reference label -> frames it is present in, in order."""
        present: dict[int, list[int]] = defaultdict(list)
        for t in sorted(self.gt_labels):
            for label in self.gt_labels[t]:
                present[label].append(t)
        return present


def complete_tracks(matches: FrameMatches, gt_tracks: Sequence[Track], res_tracks: Sequence[Track]) -> float:
    """CT: reference tracks followed by one result track over exactly their span, as an F-score over track counts."""
    res_span = {track.label: (track.begin, track.end) for track in res_tracks}
    gt_span = {track.label: (track.begin, track.end) for track in gt_tracks}
    complete = 0
    for label, frames in matches.frames_of().items():
        followers = {matches.follower(t, label) for t in frames}
        if len(followers) == 1 and 0 not in followers:
            (follower,) = followers
            complete += res_span.get(follower) == gt_span.get(label)
    total = len(gt_tracks) + len(res_tracks)
    return 2 * complete / total if total else 0.0


def track_fractions(matches: FrameMatches, gt_tracks: Sequence[Track]) -> float:
    """TF: mean, over reference tracks followed at all, of the longest fraction one result track follows.

    As in the challenge's own code, a result track that follows one reference track completely
    is not credited for the reference tracks of higher label it also follows (the official tool
    stops there); that rarely changes the value, and keeps it the challenge's.
    """
    present = {t: set(labels) for t, labels in matches.gt_labels.items()}
    longest: dict[int, dict[int, float]] = defaultdict(dict)  # result label -> {reference label: fraction}
    for track in gt_tracks:
        length = track.end - track.begin + 1
        run, previous = 0, 0
        for t in range(track.begin, track.end + 1):
            follower = matches.follower(t, track.label) if track.label in present.get(t, ()) else 0
            run = run + 1 if follower and follower == previous else (1 if follower else 0)
            if follower:
                longest[follower][track.label] = max(longest[follower].get(track.label, 0.0), run / length)
            previous = follower
    best = {track.label: 0.0 for track in gt_tracks}
    for follower in sorted(longest):
        for label, fraction in sorted(longest[follower].items()):
            if best[label] == 1:
                continue
            best[label] = max(best[label], fraction)
            if fraction == 1:
                break
    followed = [fraction for fraction in best.values() if fraction > 0]
    return float(np.mean(followed)) if followed else 0.0


def children_of(tracks: Iterable[Track]) -> dict[int, list[Track]]:
    children: dict[int, list[Track]] = defaultdict(list)
    for track in tracks:
        if track.parent:
            children[track.parent].append(track)
    return children


def divisions_of(tracks: Sequence[Track]) -> dict[Track, list[Track]]:
    """Mother -> daughters, for every track with two or more children."""
    by_label = {track.label: track for track in tracks}
    children = children_of(tracks)
    return {by_label[label]: kids for label, kids in children.items() if len(kids) >= 2 and label in by_label}


def _division_matches(
    matches: FrameMatches,
    gt_mother: Track,
    gt_daughters: list[Track],
    mother: Track,
    daughters: list[Track],
    tolerance: int,
) -> bool:
    if len(gt_daughters) != len(daughters) or abs(gt_mother.end - mother.end) > tolerance:
        return False
    if matches.follower(min(gt_mother.end, mother.end), gt_mother.label) != mother.label:
        return False
    used: set[int] = set()
    for gt_daughter in gt_daughters:
        for daughter in daughters:
            if abs(gt_daughter.begin - daughter.begin) > tolerance:
                continue
            if matches.follower(max(gt_daughter.begin, daughter.begin), gt_daughter.label) == daughter.label:
                used.add(daughter.label)
                break
    return len(used) == len(gt_daughters)


def division_counts(
    matches: FrameMatches, gt_tracks: Sequence[Track], res_tracks: Sequence[Track], tolerance: int = 0
) -> DivisionCounts:
    """Result divisions that match a reference division within ``tolerance`` frames (BC(i)'s counts)."""
    gt_divisions = divisions_of(gt_tracks)
    res_divisions = divisions_of(res_tracks)
    tp = sum(
        _division_matches(matches, gt_mother, gt_daughters, mother, daughters, tolerance)
        for mother, daughters in res_divisions.items()
        for gt_mother, gt_daughters in gt_divisions.items()
        if abs(gt_mother.end - mother.end) <= tolerance
    )
    return DivisionCounts(tp, len(res_divisions) - tp, len(gt_divisions) - tp)


def cell_cycle_lengths(tracks: Sequence[Track]) -> list[int]:
    """end - begin of each track that begins with a division and ends with one (a complete cell cycle)."""
    dividing = {mother.label for mother in divisions_of(tracks)}
    return [track.end - track.begin for track in tracks if track.label in dividing and track.parent in dividing]


def cell_cycle_accuracy(gt_tracks: Sequence[Track], res_tracks: Sequence[Track]) -> float | None:
    """CCA: 1 - the largest difference between the cumulative distributions of cell-cycle lengths."""
    reference, result = cell_cycle_lengths(gt_tracks), cell_cycle_lengths(res_tracks)
    if not reference:
        return None
    if not result:
        return 0.0
    size = max(reference + result) + 1
    cdf_reference = np.cumsum(np.bincount(reference, minlength=size)) / len(reference)
    cdf_result = np.cumsum(np.bincount(result, minlength=size)) / len(result)
    return float(1 - np.max(np.abs(cdf_reference - cdf_result)))


def trajectories(tracks: Sequence[Track]) -> dict[int, int]:
    """Track label -> its trajectory: a track whose parent has no other child continues that parent (a gap)."""
    children = children_of(tracks)
    parent_of = {track.label: track.parent for track in tracks}
    root: dict[int, int] = {}
    for label in sorted(parent_of):
        top = label
        while parent_of.get(top) and len(children[parent_of[top]]) == 1:
            top = parent_of[top]
        root[label] = top
    return root


def lineage_cliques(tracks: Sequence[Track], root: dict[int, int]) -> dict[int, set[int]]:
    """Trajectory -> itself, its ancestors and its descendants (the part of its lineage it belongs to)."""
    parent: dict[int, int] = {}
    for track in tracks:
        if root[track.label] == track.label and track.parent:
            parent[track.label] = root[track.parent]
    descendants: dict[int, set[int]] = defaultdict(set)
    ancestors: dict[int, set[int]] = defaultdict(set)
    for node in set(root.values()):
        up = parent.get(node)
        while up:
            ancestors[node].add(up)
            descendants[up].add(node)
            up = parent.get(up)
    return {node: {node} | ancestors[node] | descendants[node] for node in set(root.values())}


def chota(frames: Sequence[FrameMatch], gt_tracks: Sequence[Track], res_tracks: Sequence[Track]) -> float:
    """CHOTA: sqrt of the association accuracy over lineages, weighted per matched detection, over TP + FN + FP."""
    gt_root, res_root = trajectories(gt_tracks), trajectories(res_tracks)
    gt_ids = {label: i + 1 for i, label in enumerate(sorted(set(gt_root.values())))}
    res_ids = {label: i + 1 for i, label in enumerate(sorted(set(res_root.values())))}
    counts = np.zeros((len(gt_ids) + 1, len(res_ids) + 1))  # row/column 0: unmatched (FP/FN)
    for frame in frames:
        matched_gt, matched_res = set(frame.matched_gt.tolist()), set(frame.matched_res.tolist())
        for gt, res in zip(frame.matched_gt.tolist(), frame.matched_res.tolist()):
            counts[gt_ids[gt_root[gt]], res_ids[res_root[res]]] += 1
        for gt in frame.gt_labels.tolist():
            if gt not in matched_gt:
                counts[gt_ids[gt_root[gt]], 0] += 1
        for res in frame.res_labels.tolist():
            if res not in matched_res:
                counts[0, res_ids[res_root[res]]] += 1
    total = counts.sum()
    if total == 0:
        return 0.0
    gt_cliques = {
        gt_ids[node]: [gt_ids[x] for x in clique] for node, clique in lineage_cliques(gt_tracks, gt_root).items()
    }
    res_cliques = {
        res_ids[node]: [res_ids[x] for x in clique] for node, clique in lineage_cliques(res_tracks, res_root).items()
    }
    score = 0.0
    for i, j in zip(*np.nonzero(counts[1:, 1:])):
        rows, cols = gt_cliques[i + 1], res_cliques[j + 1]
        tpa = counts[np.ix_(rows, cols)].sum()
        fna = counts[rows, :].sum() - tpa
        fpa = counts[:, cols].sum() - tpa
        score += counts[i + 1, j + 1] * tpa / (tpa + fna + fpa)
    return float(np.sqrt(score / total))


def bio(values: Iterable[float | None]) -> float | None:
    """BIO: the mean of the biological measures that are defined."""
    defined = [value for value in values if value is not None]
    return sum(defined) / len(defined) if defined else None
