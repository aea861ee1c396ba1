"""Pair clustering on synthetic embeddings of real DIC-HeLa frames, and its post-processing rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from synthetic import EMBEDDING_SIZE, label_vector, synthetic_sequence

from ctc_submit.overlap import overlap
from ctc_submit.pipeline import cluster_pairs
from ctc_submit.presets import get_preset
from ctc_submit.tracking.clustering import (
    background_embedding,
    background_threshold,
    cluster_pair,
    drop_background_clusters,
    foreground,
    foreground_threshold,
    largest_step,
    split_components,
    subsampling_step,
    two_mode_split,
)

PRESET = get_preset("DIC-C2DH-HeLa")


@pytest.fixture(scope="module")
def dic_pairs(ctc_data):
    """Two frame pairs of DIC-HeLa 01 (one with a division in progress): (labels, embeddings) stacks."""
    frames = list(synthetic_sequence(ctc_data / "DIC-C2DH-HeLa" / "01", range(28, 31)))
    labels = np.stack([labels for labels, _ in frames])
    embeddings = np.stack([embeddings for _, embeddings in frames])
    return labels, embeddings


def matched_fraction(truth: np.ndarray, labels: np.ndarray) -> float:
    """Share of true objects (over the stack) with a predicted label of IoU > 0.5."""
    truths, _, ious = overlap(truth, labels).labelled_ious()
    matched = set(truths[ious > 0.5].tolist())
    return len(matched) / len(np.unique(truth[truth > 0]))


def test_background_is_the_dominant_embedding_and_foreground_its_complement(dic_pairs):
    labels, embeddings = dic_pairs
    background = background_embedding(embeddings[:2])
    assert np.isclose(np.linalg.norm(background), 1.0)
    assert background @ label_vector(0) > 0.99
    agreement = (foreground(embeddings, background) == (labels > 0)).mean()
    assert agreement > 0.99


@pytest.mark.parametrize(("m_pts", "step"), [(1000, 4), (500, 4), (100, 3), (50, 2), (25, 1)])
def test_subsampling_keeps_enough_points_per_cluster(m_pts, step):
    assert subsampling_step(m_pts) == step


def test_a_finer_grid_allows_proportionally_larger_steps():
    assert largest_step(1.0) == 4 and largest_step(0.5) == 4 and largest_step(1.93) == 7
    assert subsampling_step(372, largest_step(1.93)) == 6  # SIM+ at 0.75: m_pts 100 on a 518x471 grid
    assert subsampling_step(4000, largest_step(2.0)) == 8


@pytest.mark.parametrize("start", [0, 1])
def test_fast_clustering_recovers_the_objects_of_a_pair_with_one_label_through_both_frames(dic_pairs, start):
    labels, embeddings = dic_pairs
    truth = labels[start : start + 2]
    pair = embeddings[start : start + 2]
    result = cluster_pair(pair, background_embedding(embeddings[:2]), PRESET.m_pts, PRESET.c, "fast")
    assert result.shape == truth.shape and result.dtype == np.int32
    assert matched_fraction(truth, result) >= 0.9
    truths, found, ious = overlap(truth, result).labelled_ious()
    for label in np.unique(truth[0][np.isin(truth[0], truth[1]) & (truth[0] > 0)]):
        best = found[truths == label][np.argmax(ious[truths == label])]
        assert (result[0][truth[0] == label] == best).mean() > 0.9
        assert (result[1][truth[1] == label] == best).mean() > 0.9


def test_exact_and_fast_agree_on_a_coarse_grid(dic_pairs):
    """Exact mode on a 4x coarser grid (m_pts and c scaled to match) finds the same objects as fast mode."""
    labels, embeddings = dic_pairs
    coarse_labels = labels[:2, ::4, ::4]
    coarse = embeddings[:2, :, ::4, ::4]
    background = background_embedding(coarse)
    exact = cluster_pair(coarse, background, PRESET.m_pts // 16, PRESET.c * 4, "exact")
    fast = cluster_pair(coarse, background, PRESET.m_pts // 16, PRESET.c * 4, "fast")
    assert matched_fraction(coarse_labels, exact) >= 0.9
    assert matched_fraction(coarse_labels, fast) >= 0.9


def test_a_pair_with_fewer_foreground_pixels_than_a_cluster_has_no_objects():
    rng = np.random.default_rng(0)
    embeddings = np.repeat(label_vector(0)[None, :, None, None], 2, axis=0) * np.ones((2, EMBEDDING_SIZE, 32, 32))
    embeddings[:, :, :3, :3] = label_vector(5)[None, :, None, None]
    embeddings += rng.normal(scale=0.01, size=embeddings.shape)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    result = cluster_pair(embeddings.astype(np.float32), label_vector(0), 100, 0.01, "exact")
    assert not result.any()


def test_split_components_separates_disjoint_parts_and_drops_small_ones():
    labels = np.zeros((2, 10, 10), dtype=np.int32)
    labels[0, 0:3, 0:3] = 1  # one cell in frame t-1 ...
    labels[1, 1:4, 1:4] = 1  # ... that moved a little in frame t: still one component
    labels[0, 6:9, 6:9] = 1  # another cell with a similar embedding, apart: its own label
    labels[1, 9, 0] = 2  # a speck, below the size limit
    result = split_components(labels, min_size=5)
    assert result[0, 0, 0] == result[1, 3, 3] != 0
    assert result[0, 7, 7] not in (0, result[0, 0, 0])
    assert result[1, 9, 0] == 0
    assert sorted(np.unique(result).tolist()) == [0, 1, 2]


def test_split_components_connects_in_plane_through_edges_only():
    labels = np.zeros((1, 4, 4), dtype=np.int32)
    labels[0, 0, 0] = labels[0, 1, 1] = 3
    assert len(np.unique(split_components(labels, min_size=1))) == 3


def test_clusters_whose_mean_is_background_like_are_dropped():
    background = label_vector(0)
    rng = np.random.default_rng(1)
    # Pixels individually off the background in all directions average back onto it.
    around = background + rng.normal(scale=0.3, size=(200, EMBEDDING_SIZE))
    cell = label_vector(7) + rng.normal(scale=0.05, size=(200, EMBEDDING_SIZE))
    features = np.concatenate([around, cell])
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    points = np.column_stack([features, np.zeros((400, 2))])
    ids = np.repeat([1, 2], 200).astype(np.int32)
    ids[:5] = 0
    result = drop_background_clusters(ids, points, background, EMBEDDING_SIZE)
    assert set(result[:200].tolist()) == {0}
    assert set(result[200:].tolist()) == {2}


def spread_background(labels: np.ndarray, embeddings: np.ndarray, spread: float, seed: int = 0) -> np.ndarray:
    """``embeddings`` with each background pixel pushed off the background vector by Gaussian noise of
    ``spread`` per axis, as a network trained without a strong background pull leaves it."""
    rng = np.random.default_rng(seed)
    result = embeddings.copy()
    where = np.broadcast_to((labels == 0)[:, None], embeddings.shape)
    result[where] += rng.normal(scale=spread, size=int(where.sum())).astype(np.float32)
    return result / np.linalg.norm(result, axis=1, keepdims=True)


def two_modes(rng: np.random.Generator, cells: tuple[float, float], background: tuple[float, float]) -> np.ndarray:
    """Cosines of 4000 cell pixels and 6000 background pixels, each mode (centre, spread), within [-1, 1]."""
    values = np.concatenate([rng.normal(*cells, size=4000), rng.normal(*background, size=6000)])
    return np.clip(values, -1.0, 1.0)


def test_the_split_of_two_modes_lies_between_them():
    rng = np.random.default_rng(0)
    assert 0.3 < two_mode_split(two_modes(rng, (0.1, 0.1), (0.85, 0.05))) < 0.7
    assert -0.05 < two_mode_split(two_modes(rng, (-0.2, 0.05), (0.5, 0.1))) < 0.25
    assert two_mode_split(np.full(100, 0.3)) == 1.0  # one value: nothing to split


def test_a_compact_background_is_held_by_the_preset_cosine():
    """Background packed against 1 (a network trained with the background pull): the preset's test, unchanged."""
    cosines = two_modes(np.random.default_rng(1), (0.05, 0.1), (0.995, 0.005))
    assert background_threshold(cosines, 0.95) == 0.95


def test_a_spread_out_background_is_split_from_the_cells_between_the_modes():
    """Background well below 0.95 (the paper's loss, early in training): the preset's test would call
    every pixel foreground; the split between the modes keeps the background apart."""
    cosines = two_modes(np.random.default_rng(2), (0.15, 0.1), (0.8, 0.08))
    threshold = background_threshold(cosines, 0.95)
    assert 0.35 < threshold < 0.6
    cells, background = cosines[:4000], cosines[4000:]
    assert (cells < threshold).mean() > 0.98 and (background >= threshold).mean() > 0.98
    assert (background < 0.95).mean() > 0.95  # what the preset's cosine alone would call foreground


@given(
    arrays(np.float64, st.integers(1, 300), elements=st.floats(-1.0, 1.0)),
    st.floats(-1.0, 1.0),
)
def test_the_threshold_never_calls_more_pixels_foreground_than_the_preset_cosine(cosines, background_cosine):
    threshold = background_threshold(cosines, background_cosine)
    assert threshold <= background_cosine
    mode = cosines[cosines >= two_mode_split(cosines)]
    if threshold < background_cosine:  # only where over a quarter of the background mode lies below the preset's
        assert (mode < background_cosine).mean() > 0.25


def test_clusters_of_a_spread_out_background_are_found_as_with_a_compact_one(dic_pairs):
    """Background pixels at cosine ~0.8 to the background (each pushed off it by noise): the pair's
    objects are found as if it were compact, with the split at the valley between the modes."""
    labels, embeddings = dic_pairs
    spread = spread_background(labels, embeddings, spread=0.18)
    background = background_embedding(spread[:2])
    cosines = np.einsum("tehw,e->thw", spread, background)
    assert 0.7 < np.median(cosines[labels == 0]) < 0.9
    assert foreground(spread, background).mean() > 0.99  # the preset's 0.95 alone: everything is foreground
    threshold = foreground_threshold(spread[:2], background)
    assert threshold < 0.7
    assert (foreground(spread, background, threshold) == (labels > 0)).mean() > 0.99
    test: dict[str, float] = {}
    found = list(cluster_pairs([spread[:2], spread[1:]], PRESET, "fast", background_test=test))
    assert test["cosine"] == threshold
    for start, result in enumerate(found):
        assert matched_fraction(labels[start : start + 2], result) >= 0.9


def test_the_pipeline_keeps_the_preset_cosine_for_a_compact_background(dic_pairs):
    labels, embeddings = dic_pairs
    test: dict[str, float] = {}
    compact = list(cluster_pairs([embeddings[:2]], PRESET, "fast", background_test=test))
    assert test["cosine"] == PRESET.background_cosine
    expected = cluster_pair(embeddings[:2], background_embedding(embeddings[:2]), PRESET.m_pts, PRESET.c, "fast")
    assert np.array_equal(compact[0], expected)
