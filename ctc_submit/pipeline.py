"""From a raw sequence folder to a written result: the stages chained, streamed and timed.

Frames flow one at a time through reading, the network, pair clustering and the IoU merge;
only the merged 256x256 labels of the whole sequence are held (for lineage). Upsampled masks
are written one at a time into the submission folder.
"""

from __future__ import annotations

import functools
import itertools
import multiprocessing
import os
from collections import defaultdict, deque
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Callable, Iterable, Iterator, TypeVar

import numpy as np
import torch

from ctc_submit.clustering import Mode, background_embedding, cluster_pair
from ctc_submit.io import CTCInputError, Track, digits_of, frame_index, list_frames, read_frame
from ctc_submit.lineage import (
    build_lineage,
    count_divisions,
    graph_from_tracks,
    reconcile,
    rules_of,
    tracks_from_graph,
)
from ctc_submit.merge import merge_pairs
from ctc_submit.model.inference import RecurrentWindow, embed_pairs, resolve_device
from ctc_submit.normalize import NETWORK_SIZE
from ctc_submit.presets import Preset
from ctc_submit.submission import SubmissionWriter, check_destination
from ctc_submit.upsample import largest_pieces, upsample_labels

T = TypeVar("T")
STAGES = ("read", "network", "clustering", "merge", "lineage", "upsample", "write")
Progress = Callable[[str, int, int], None]


class StageClock:
    """Wall time per stage, exclusive: time spent in a nested stage is not counted in its caller.

    Streaming stages are generators pulling from each other; timing each ``next`` exclusively
    gives every stage its own share even though they interleave.
    """

    def __init__(self, timer: Callable[[], float] = perf_counter) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.timer = timer
        self._stack: list[str] = []
        self._since = timer()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        now = self.timer()
        if self._stack:
            self.seconds[self._stack[-1]] += now - self._since
        self._stack.append(name)
        self._since = now
        try:
            yield
        finally:
            now = self.timer()
            self.seconds[self._stack.pop()] += now - self._since
            self._since = now

    def iterate(self, iterable: Iterable[T], name: str) -> Iterator[T]:
        """``iterable`` with the time of each ``next`` charged to stage ``name``."""
        iterator = iter(iterable)
        while True:
            with self.stage(name):
                try:
                    item = next(iterator)
                except StopIteration:
                    return
            yield item


@dataclass
class PipelineResult:
    """What a run wrote (counts, tracks) and where its time went (``seconds`` per stage, exclusive)."""

    frames: int
    shape: tuple[int, int]
    objects: int
    tracks: list[Track]
    divisions: int
    seconds: dict[str, float]
    warnings: list[str] = field(default_factory=list)
    clustering_seconds: float = 0.0  # spent clustering, in worker processes or not; overlaps the network


def read_frames(paths: list[Path], shape: tuple[int, int]) -> Iterator[np.ndarray]:
    """Frames in order; all must have ``shape`` (one result size per sequence)."""
    for path in paths:
        image = read_frame(path)
        if image.shape != shape:
            size, first = f"{image.shape[1]}x{image.shape[0]}", f"{shape[1]}x{shape[0]}"
            raise CTCInputError(f"{path}: size {size} differs from the first frame ({first})")
        yield image


def _timed_cluster_pair(pair: np.ndarray, **options) -> tuple[np.ndarray, float]:
    started = perf_counter()
    labels = cluster_pair(pair, **options)
    return labels, perf_counter() - started


def cluster_pairs(
    pairs: Iterable[np.ndarray],
    preset: Preset,
    mode: Mode,
    jobs: int = 1,
    workers: int = 0,
    busy: dict[str, float] | None = None,
) -> Iterator[np.ndarray]:
    """Label stacks of the pairs, in order; the background embedding is estimated once, on the first pair.

    With ``workers`` = 0 each pair is clustered here, when it is needed; otherwise in that many
    processes (HDBSCAN holds the GIL), side by side with this process producing the next
    embeddings, with at most two pairs per worker waiting. The time spent clustering, wherever
    it ran, is added to ``busy["clustering"]``.
    """
    pairs = iter(pairs)
    first = next(pairs, None)
    if first is None:
        return
    busy = busy if busy is not None else {}
    busy.setdefault("clustering", 0.0)
    cluster = functools.partial(
        _timed_cluster_pair,
        background=background_embedding(first), m_pts=preset.m_pts, c=preset.c, mode=mode, jobs=jobs,
    )  # fmt: skip
    if workers == 0:
        for pair in itertools.chain([first], pairs):
            labels, seconds = cluster(pair)
            busy["clustering"] += seconds
            yield labels
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: deque[Future] = deque()
        for pair in itertools.chain([first], pairs):
            pending.append(pool.submit(cluster, pair))
            while len(pending) > 2 * workers or (pending and pending[0].done()):
                labels, seconds = pending.popleft().result()
                busy["clustering"] += seconds
                yield labels
        while pending:
            labels, seconds = pending.popleft().result()
            busy["clustering"] += seconds
            yield labels


@dataclass(frozen=True)
class CorePlan:
    """How the cores are shared: threads of the network, clustering processes (0: none, cluster in
    between frames) and threads inside each clustering."""

    network_threads: int
    clustering_processes: int
    clustering_threads: int


def core_plan(device: str, cores: int | None = None) -> CorePlan:
    """Network and clustering side by side, each on its own cores.

    On a 2-core machine with another busy process, torch with 2 threads ran 10x slower than with
    one (its threads spin waiting for each other), while one network thread next to one
    clustering process keeps both cores busy. A GPU leaves the cores to clustering.
    """
    cores = cores or os.cpu_count() or 1
    if resolve_device(device).type == "cuda":
        return CorePlan(1, max(1, cores - 1), 1)
    if cores == 1:
        return CorePlan(1, 0, 1)
    processes = max(1, cores // 2)
    return CorePlan(cores - processes, processes, 1)


def border_band(preset: Preset, shape: tuple[int, int]) -> tuple[float, float]:
    """The preset's border (original pixels) in pixels of the network grid, per axis."""
    rows, cols = (preset.border * size / original for size, original in zip(NETWORK_SIZE, shape))
    return rows, cols


def track_pairs(
    pairs: Iterable[np.ndarray],
    shape: tuple[int, int],
    preset: Preset,
    output_dir: Path,
    digits: int,
    clustering: Mode = "fast",
    overwrite: bool = False,
    progress: Progress | None = None,
    total: int = 0,
    clock: StageClock | None = None,
    jobs: int = 1,
    workers: int = 0,
) -> PipelineResult:
    """Everything after the network: embeddings of overlapping frame pairs (2, E, 256, 256) in (one
    (1, E, 256, 256) stack for a one-frame video), result folder of ``shape`` masks out."""
    report = progress or (lambda phase, done, count: None)
    clock = clock or StageClock()
    busy: dict[str, float] = {}
    labelled = clock.iterate(cluster_pairs(pairs, preset, clustering, jobs, workers, busy), "clustering")
    merged = []
    for frame in clock.iterate(merge_pairs(labelled), "merge"):
        merged.append(frame)
        report("track", len(merged), total)
    with clock.stage("lineage"):
        stack, tracks = build_lineage(np.stack(merged), rules_of(preset), border_band(preset, shape))
    del merged
    with SubmissionWriter(Path(output_dir), digits, overwrite) as writer:
        present = []
        for index, labels in enumerate(stack):
            with clock.stage("upsample"):
                full = largest_pieces(upsample_labels(labels, shape))
                present.append(set(np.unique(full).tolist()) - {0})
            with clock.stage("write"):
                writer.write(index, full)
            report("write", index + 1, len(stack))
        with clock.stage("lineage"):
            graph, relabel = reconcile(present, graph_from_tracks(tracks))
            tracks = tracks_from_graph(graph)
        with clock.stage("write"):
            for index, mapping in enumerate(relabel):
                if mapping:
                    writer.relabel(index, mapping)
            validation = writer.commit(tracks)
    seconds = {name: clock.seconds.get(name, 0.0) for name in STAGES}
    objects = sum(len(labels) for labels in present)
    return PipelineResult(
        frames=len(stack), shape=shape, objects=objects, tracks=tracks, divisions=count_divisions(tracks),
        seconds=seconds, warnings=validation.warnings, clustering_seconds=busy.get("clustering", 0.0),
    )  # fmt: skip


def check_folders(input_dir: Path, output_dir: Path, overwrite: bool) -> list[Path]:
    """The input frames, numbered from 0, and a usable destination: checked before any heavy work."""
    paths = list_frames(Path(input_dir))
    if frame_index(paths[0]) != 0:
        raise CTCInputError(f"{input_dir}: frames must be numbered from 0 (first is {paths[0].name})")
    check_destination(Path(output_dir), overwrite)
    return paths


def run_pipeline(
    input_dir: Path,
    output_dir: Path,
    preset: Preset,
    network: torch.nn.Module,
    device: str | torch.device = "auto",
    clustering: Mode = "fast",
    overwrite: bool = False,
    progress: Progress | None = None,
    jobs: int = 1,
    workers: int = 0,
    window: RecurrentWindow | None = None,
) -> PipelineResult:
    """Segment and track ``input_dir`` (``tNNN.tif``) into the CTC result folder ``output_dir``.

    ``window`` restarts the network's recurrent state periodically (see :class:`RecurrentWindow`).
    """
    paths = check_folders(input_dir, output_dir, overwrite)
    shape = read_frame(paths[0]).shape
    clock = StageClock()
    images = clock.iterate(read_frames(paths, shape), "read")
    pairs = clock.iterate(embed_pairs(images, network, preset, device, window), "network")
    return track_pairs(
        pairs, shape, preset, output_dir, digits_of(paths[0]),
        clustering, overwrite, progress, total=len(paths), clock=clock, jobs=jobs, workers=workers,
    )
