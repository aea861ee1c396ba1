"""Biological measures (CT, TF, BC(i), CCA, CHOTA): rules on hand-made matches, and values checked
against an independent implementation (py-ctcmetrics) on the evaluator fixtures."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from ctc_submit.evaluation import evaluate
from ctc_submit.evaluation.aogm import FrameMatch
from ctc_submit.evaluation.biological import (
    DivisionCounts,
    FrameMatches,
    cell_cycle_accuracy,
    complete_tracks,
    division_counts,
    track_fractions,
)
from ctc_submit.io import Track

# Measures py-ctcmetrics computes under the same names; OP_CLB and division precision/recall it does not.
CHECKED = ["LNK", "CT", "TF", "BC(0)", "BC(1)", "BC(2)", "CCA", "CHOTA", "BIO(0)", "BIO(1)"]


def identity(frames: dict[int, list[int]]) -> list[FrameMatch]:
    """Every reference label matched by the result label of the same number."""
    matches = []
    for t, labels in sorted(frames.items()):
        labels = np.array(labels)
        matches.append(FrameMatch(t, labels, labels, labels, labels))
    return matches


def test_a_division_found_a_frame_late_counts_only_with_tolerance():
    gt = [Track(1, 0, 1, 0), Track(2, 2, 3, 1), Track(3, 2, 3, 1)]
    late = [Track(1, 0, 2, 0), Track(2, 3, 3, 1), Track(3, 3, 3, 1)]
    frames = identity({0: [1], 1: [1], 2: [2, 3], 3: [2, 3]})
    # the result keeps label 1 over frame 2, where the reference shows the daughters
    frames[2] = FrameMatch(2, np.array([2, 3]), np.array([1]), np.array([2]), np.array([1]))
    matches = FrameMatches(frames)
    assert division_counts(matches, gt, late, 0) == DivisionCounts(tp=0, fp=1, fn=1)
    assert division_counts(matches, gt, late, 1).f1() == 1.0
    assert division_counts(matches, gt, gt[:1], 0).f1() == 0.0 and division_counts(matches, gt[:1], gt[:1]).f1() is None


def test_complete_tracks_and_fractions_of_a_track_broken_in_two():
    gt = [Track(1, 0, 3, 0)]
    broken = [Track(1, 0, 1, 0), Track(2, 2, 3, 0)]
    frames = [
        FrameMatch(t, np.array([1]), np.array([r]), np.array([1]), np.array([r])) for t, r in enumerate([1, 1, 2, 2])
    ]
    matches = FrameMatches(frames)
    assert complete_tracks(FrameMatches(identity({t: [1] for t in range(4)})), gt, gt) == 1.0
    assert complete_tracks(matches, gt, broken) == 0.0
    assert track_fractions(matches, gt) == 0.5


def test_cell_cycle_accuracy_compares_the_distributions_of_cycle_lengths():
    def lineage(cycle: int) -> list[Track]:
        return [
            Track(1, 0, 1, 0), Track(2, 2, 2 + cycle, 1), Track(3, 2, 9, 1),
            Track(4, 3 + cycle, 9, 2), Track(5, 3 + cycle, 9, 2),
        ]  # fmt: skip

    assert cell_cycle_accuracy(lineage(3), lineage(3)) == 1.0
    assert cell_cycle_accuracy(lineage(3), lineage(4)) == 0.0
    assert cell_cycle_accuracy(lineage(3), lineage(3)[:1]) == 0.0
    assert cell_cycle_accuracy(lineage(3)[:3], lineage(3)) is None


def py_ctcmetrics(res_dir, gt_dir) -> dict:
    metrics = pytest.importorskip("ctc_metrics.scripts.evaluate")
    with contextlib.redirect_stdout(io.StringIO()):
        return metrics.evaluate_sequence(
            str(res_dir), str(gt_dir), ["TRA", "LNK", "CT", "TF", "BC(2)", "CCA", "CHOTA"], threads=1
        )


def assert_same(ours: dict, theirs: dict) -> None:
    for name in ours.keys() & set(CHECKED):
        if theirs[name] is None or ours[name] is None:
            assert ours[name] is None and theirs[name] is None, name
        else:
            assert ours[name] == pytest.approx(float(theirs[name]), abs=1e-9), name


# The error cases R0-R3 and a TIFF/track-file variant; B50/B51 (py-ctcmetrics fails on their empty
# frames) and the bad_/ws_ cases the official tool refuses are left out.
COMPARED_GOLDEN = ["R0_perfect", "R1_missEdge_FP", "R2_merge_NS", "R3_relabel_EC", "tif_lzw", "ws_unsorted"]


@pytest.mark.parametrize("case", COMPARED_GOLDEN)
def test_golden_cases_agree_with_py_ctcmetrics(eval_fixtures, case):
    folder = eval_fixtures / "golden" / case
    ours = evaluate(folder, "01", measures=CHECKED[1:])  # some cases have no reference edge: LNK undefined
    assert_same(ours, py_ctcmetrics(folder / "01_RES", folder / "01_GT"))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["iPSC-01"])  # PhC-C2DL-PSC-01 agrees too, but py-ctcmetrics takes minutes on it
def test_real_results_agree_with_py_ctcmetrics(eval_fixtures, name):
    folder = eval_fixtures / name
    ours = evaluate(folder, "01", measures=[*CHECKED, "OP_CLB(0)", "DIV_PRECISION(0)", "DIV_RECALL(0)"])
    assert_same(ours, py_ctcmetrics(folder / "01_RES", folder / "01_GT"))
    assert ours["OP_CLB(0)"] == pytest.approx((ours["LNK"] + ours["BIO(0)"]) / 2)
