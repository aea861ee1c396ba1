"""Instances from embeddings: HDBSCAN on overlapping frame pairs.

Clustering two consecutive frames together gives each object one label in both frames, which
is what links the frames; the pairs are then chained by :mod:`ctc_submit.tracking.merge`. Points are
``[embedding, c*y, c*x]`` so that two far-apart cells with similar embeddings stay apart.
"""

from __future__ import annotations

import signal
from time import perf_counter
from typing import Literal

import hdbscan
import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree
from threadpoolctl import threadpool_limits

from ctc_submit.presets import Preset
from ctc_submit.resources import peak_memory_mib

Mode = Literal["fast", "exact"]

# Fast mode clusters every STEP-th pixel along each axis with m_pts / STEP**2; the subsampled
# density must keep at least this many points per cluster for HDBSCAN to stay meaningful.
MIN_SUBSAMPLED_PTS = 8
MAX_STEP = 4  # on the 256x256 grid; a finer grid allows proportionally more (largest_step)
# Pixels are connected in-plane through edges and across the two frames at the same position.
CONNECTIVITY = ndimage.generate_binary_structure(3, 1)
# The histogram of cosines in [-1, 1] that the two modes are split on: bins 0.01 wide.
SPLIT_BINS = 200
# A background mode is compact when this share of it lies within background_cosine of its direction. Its lower
# quartile: 0.99 for models trained with the background pull, 0.79-0.88 without it (DIC-HeLa 01, 805-1671 iterations).
COMPACT_SHARE = 0.75


def background_embedding(embeddings: np.ndarray) -> np.ndarray:
    """Per-channel median over all pixels of ``(k, E, H, W)`` embeddings, renormalised.

    Background covers most of a frame, so the median is its embedding; estimating it once, on
    the first pair, keeps the foreground test identical for the whole sequence.
    """
    median = np.median(np.moveaxis(embeddings, 1, 0).reshape(embeddings.shape[1], -1), axis=1)
    return (median / max(float(np.linalg.norm(median)), 1e-12)).astype(np.float32)


def two_mode_split(cosines: np.ndarray) -> float:
    """Otsu's threshold of cosines in [-1, 1]: the cut of their histogram with the largest
    variance between the two sides; 1.0 when all fall in one bin (nothing to split)."""
    counts, edges = np.histogram(np.clip(cosines, -1.0, 1.0), bins=SPLIT_BINS, range=(-1.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    below = np.cumsum(counts)[:-1].astype(np.float64)
    above = below[-1] + counts[-1] - below
    weighted = np.cumsum(counts * centres)[:-1]
    total = weighted[-1] + counts[-1] * centres[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        between = below * above * (weighted / below - (total - weighted) / above) ** 2
    between = np.nan_to_num(between, nan=-1.0)
    if between.max() <= 0:
        return 1.0
    return float(edges[np.argmax(between) + 1])


def background_threshold(cosines: np.ndarray, background_cosine: float = Preset.background_cosine) -> float:
    """The cosine to the background embedding from which a pixel is background, for a sequence
    whose first frames' pixels have these ``cosines``; never above ``background_cosine``.

    The background is the upper of the two modes of the cosines. A network trained with a strong
    pull of the background to one direction packs that mode against 1, and ``background_cosine``
    holds it while leaving out the cells' blurred edges. One trained without it (the paper's loss)
    may leave the background spread out well below ``background_cosine``, where that test would
    call every pixel foreground; when more than a quarter of the mode lies below it, the
    background is what lies above the split between the two modes.
    """
    cosines = np.asarray(cosines, dtype=np.float64).ravel()
    split = two_mode_split(cosines)
    mode = cosines[cosines >= split]
    if not mode.size or np.mean(mode >= background_cosine) >= COMPACT_SHARE:
        return background_cosine
    return split


def foreground_threshold(
    embeddings: np.ndarray, background: np.ndarray, background_cosine: float = Preset.background_cosine
) -> float:
    """:func:`background_threshold` of ``(k, E, H, W)`` embeddings' cosines to ``background``."""
    return background_threshold(np.einsum("kehw,e->khw", embeddings, background), background_cosine)


def foreground(
    embeddings: np.ndarray, background: np.ndarray, threshold: float = Preset.background_cosine
) -> np.ndarray:
    """Pixels whose cosine with the background embedding is below ``threshold``: (k, H, W) bool."""
    return np.einsum("kehw,e->khw", embeddings, background) < threshold


def largest_step(ratio: float) -> int:
    """Fast mode's largest step on a grid ``ratio`` times as fine as 256x256 (a length ratio): MAX_STEP
    there, and as many more as keep the clustered points no denser than on that grid, so the
    clustering of a finer grid costs about what it costs at 256x256 (m_pts grows with the grid too)."""
    return max(MAX_STEP, int(MAX_STEP * ratio))


def subsampling_step(m_pts: int, max_step: int = MAX_STEP) -> int:
    """Largest grid step (up to ``max_step``) that leaves at least MIN_SUBSAMPLED_PTS points per minimal cluster."""
    for step in range(max_step, 1, -1):
        if m_pts / step**2 >= MIN_SUBSAMPLED_PTS:
            return step
    return 1


def _points(embeddings: np.ndarray, mask: np.ndarray, c: float) -> np.ndarray:
    frame, y, x = np.nonzero(mask)
    features = embeddings[frame, :, y, x]
    return np.column_stack([features, c * y, c * x]).astype(np.float64)


def _hdbscan(points: np.ndarray, m_pts: int, jobs: int) -> np.ndarray:
    """Cluster ids (0 = noise) of ``points``; fewer points than a minimal cluster means no cluster."""
    if len(points) <= m_pts:
        return np.zeros(len(points), dtype=np.int32)
    clusterer = hdbscan.HDBSCAN(min_cluster_size=m_pts, min_samples=m_pts, core_dist_n_jobs=jobs)
    return (clusterer.fit_predict(points) + 1).astype(np.int32)


def drop_background_clusters(
    ids: np.ndarray,
    points: np.ndarray,
    background: np.ndarray,
    embedding_size: int,
    threshold: float = Preset.background_cosine,
) -> np.ndarray:
    """Noise-like clusters of background pixels that escaped the pixel test (cosine ``threshold``) are set to 0."""
    count = int(ids.max(initial=0)) + 1
    sums = np.zeros((count, embedding_size))
    np.add.at(sums, ids, points[:, :embedding_size])
    norms = np.linalg.norm(sums, axis=1)
    cosine = sums @ background / np.maximum(norms, 1e-12)
    keep = cosine < threshold
    keep[0] = False
    return np.where(keep[ids], ids, 0).astype(np.int32)


def split_components(labels: np.ndarray, min_size: float) -> np.ndarray:
    """Each cluster split into its connected components over the frame stack; small ones dropped.

    A cluster may join two cells with similar embeddings that do not touch; in the stack of two
    frames a cell that moved a little still overlaps itself, so it stays one component.
    """
    result = np.zeros(labels.shape, dtype=np.int32)
    next_id = 1
    for cluster, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        components, count = ndimage.label(labels[box] == cluster, structure=CONNECTIVITY)
        sizes = np.bincount(components.ravel(), minlength=count + 1)
        target = result[box]
        for component in np.flatnonzero(sizes[1:] >= min_size) + 1:
            target[components == component] = next_id
            next_id += 1
    return result


def cluster_pair(
    embeddings: np.ndarray,
    background: np.ndarray,
    m_pts: int,
    c: float,
    mode: Mode = "fast",
    jobs: int = 1,
    without_image: tuple[bool, ...] = (),
    background_cosine: float = Preset.background_cosine,
    max_step: int = MAX_STEP,
) -> np.ndarray:
    """Instance labels (k, H, W) int32 of ``(k, E, H, W)`` embeddings of k consecutive frames (k = 2, or 1).

    ``exact`` clusters every foreground pixel; ``fast`` clusters a grid subsample (every step-th
    pixel, step at most ``max_step``) with m_pts scaled to the subsample and gives every other
    foreground pixel the label of its nearest clustered point in the same feature space (noise
    stays noise). Frames flagged in ``without_image`` (blank) have no foreground: there the
    network's output is only its memory of earlier frames. Pixels and clusters within
    ``background_cosine`` of the background embedding are background.
    """
    embedding_size = embeddings.shape[1]
    mask = foreground(embeddings, background, background_cosine)
    mask[np.asarray(without_image, dtype=bool).nonzero()] = False
    step = subsampling_step(m_pts, max_step) if mode == "fast" else 1
    labels = np.zeros(mask.shape, dtype=np.int32)
    if step == 1:
        points = _points(embeddings, mask, c)
        ids = drop_background_clusters(
            _hdbscan(points, m_pts, jobs), points, background, embedding_size, background_cosine
        )
        labels[mask] = ids
    else:
        grid = np.zeros_like(mask)
        grid[:, ::step, ::step] = True
        sampled = mask & grid
        points = _points(embeddings, sampled, c)
        ids = _hdbscan(points, max(2, round(m_pts / step**2)), jobs)
        ids = drop_background_clusters(ids, points, background, embedding_size, background_cosine)
        if len(points):
            _, nearest = cKDTree(points).query(_points(embeddings, mask, c), workers=jobs)
            labels[mask] = ids[nearest]
    return split_components(labels, m_pts / 2)


def start_worker(threads: int) -> None:
    """Initialiser of a clustering process. Its BLAS and OpenMP pools get ``threads`` threads, so
    processes side by side with the network never oversubscribe the cores; it ignores Ctrl-C,
    which reaches every process of the terminal: the main process alone handles it and stops the workers."""
    threadpool_limits(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def timed_cluster_pair(embeddings: np.ndarray, **options) -> tuple[np.ndarray, float, float]:
    """:func:`cluster_pair`, the seconds it took and the peak memory (MiB) of the process it ran in
    (a clustering process's own, not its starter's); lives here so a worker process imports no torch."""
    started = perf_counter()
    labels = cluster_pair(embeddings, **options)
    return labels, perf_counter() - started, peak_memory_mib()
