"""From a raw sequence folder to a written result: the stages chained, streamed and timed.

Frames flow one at a time through reading, the network, pair clustering and the IoU merge;
only the merged labels of the whole sequence on the network grid (256x256, or the frame scaled by
the preset's network_scale) are held, for the lineage (T x 256 x 256 x 4 bytes: 22 MB for the 84
frames of DIC-HeLa, twice that while the lineage copies them). Then each frame is upsampled,
relabelled and written exactly once, and checked as it is written: one frame at the original size
is in memory at a time (beside each label's first and last region for the daughter check, 0.8 MB
for DIC-HeLa 01), and no mask is read back.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import queue
import signal
import threading
from collections import defaultdict, deque
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import resource_tracker
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from ctc_submit.frames import FrameSource, check_run
from ctc_submit.io import CTCInputError, Track
from ctc_submit.model.compute import Precision, resolve_device
from ctc_submit.model.inference import embed_pairs
from ctc_submit.normalize import grid_ratio, normalize_frames
from ctc_submit.presets import Preset, on_grid
from ctc_submit.submission import SubmissionWriter
from ctc_submit.tracking.clustering import (
    Mode,
    background_embedding,
    foreground_threshold,
    largest_step,
    start_worker,
    timed_cluster_pair,
)
from ctc_submit.tracking.intensity import (
    BRIGHT_QUANTILE,
    frame_signal,
    label_quantiles,
    signal_cells,
    significance,
    trim_to_signal,
)
from ctc_submit.tracking.lineage import (
    OverlapLinker,
    Reconciler,
    build_lineage,
    count_divisions,
    graph_from_tracks,
    relabel_frame,
    remove_labels,
    rules_of,
    tracks_from_graph,
)
from ctc_submit.tracking.merge import merge_pairs
from ctc_submit.tracking.upsample import largest_pieces, upsample_labels
from ctc_submit.validate import labels_present

if TYPE_CHECKING:
    from ctc_submit.tracker import Model

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
    input_warnings: list[str] = field(default_factory=list)  # about the frames, e.g. blank ones
    precision: str = ""  # the network's arithmetic, as resolved for the device
    core_plan: CorePlan | None = None  # how the cores were shared, when the caller planned them
    background_cosine: float | None = None  # from this cosine to the background embedding a pixel was background
    # the largest peak memory (MiB) of a clustering process; None when clustering ran in the main process
    clustering_peak_memory_mib: float | None = None


def prefetched(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """``items`` produced ahead in a background thread, at most ``depth`` waiting.

    Reading and normalising the next frames (I/O and numpy, which release the GIL) then overlap
    the network instead of stalling it, which matters most on a GPU. An error in the producer is
    raised here, at the item it concerns.
    """
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put((done, None))
        except BaseException as error:  # handed to the consumer, raised there
            buffer.put((done, error))

    producer = threading.Thread(target=produce, name="prefetch", daemon=True)
    producer.start()
    try:
        while True:
            item, error = buffer.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item
    finally:
        stop.set()
        producer.join()


def _start_resource_tracker() -> None:
    """Start multiprocessing's semaphore tracker immune to hang-ups (it inherits an ignored SIGHUP).

    A closed terminal sends SIGHUP to every process of the run; a tracker killed by it would be
    restarted, empty, while this process cleans up, and print a traceback per semaphore.
    """
    if not hasattr(signal, "SIGHUP") or threading.current_thread() is not threading.main_thread():
        resource_tracker.ensure_running()
        return
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        resource_tracker.ensure_running()
    finally:
        signal.signal(signal.SIGHUP, previous)


@contextmanager
def worker_pool(workers: int, threads: int) -> Iterator[ProcessPoolExecutor]:
    """Clustering processes of ``threads`` threads each that end with the block: on an error or
    interruption they are killed at once (a clean shutdown would first finish every queued pair),
    so no child outlives the run."""
    _start_resource_tracker()
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, context, initializer=start_worker, initargs=(threads,))
    try:
        yield pool
    except BaseException:
        for process in list(pool._processes.values()):  # no public way before Python 3.14
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def noting_blank_frames(images: Iterable[np.ndarray], blank: list[bool]) -> Iterator[np.ndarray]:
    """Frames passed through, each noted in ``blank`` as holding a single value or not: such a frame
    has no image (a dropped frame, a closed shutter), so nothing may be found in it."""
    for image in images:
        blank.append(bool(image.min() == image.max()))
        yield image


def clustering_on_grid(preset: Preset, grid: tuple[int, ...]) -> tuple[int, float, int]:
    """m_pts and c (the preset's, for a 256x256 grid) converted to the network ``grid``, and fast
    mode's largest subsampling step there."""
    ratio = grid_ratio(grid)
    scaled = on_grid(preset, ratio)
    return scaled.m_pts, scaled.c, largest_step(ratio)


@dataclass
class ClusteringUsage:
    """What the clustering took: seconds, wherever it ran (it overlaps the network), and the largest
    peak memory (MiB) of a worker process; None when it ran in this process, whose peak includes it."""

    seconds: float = 0.0
    worker_peak_mib: float | None = None

    def add(self, seconds: float, worker_peak_mib: float | None = None) -> None:
        self.seconds += seconds
        if worker_peak_mib is not None:
            self.worker_peak_mib = max(self.worker_peak_mib or 0.0, worker_peak_mib)


def cluster_pairs(
    pairs: Iterable[np.ndarray],
    preset: Preset,
    mode: Mode,
    jobs: int = 1,
    workers: int = 0,
    usage: ClusteringUsage | None = None,
    blank: Sequence[bool] = (),
    background_test: dict[str, float] | None = None,
) -> Iterator[np.ndarray]:
    """Label stacks of the pairs, in order; the background embedding and the cosine from which a
    pixel is background (noted in ``background_test["cosine"]``) are estimated once, on the first
    pair's frames that have an image, and m_pts and c (given for a 256x256 grid) are converted to the
    pairs' grid.

    Frames noted in ``blank`` (filled as the frames are read, so known when their pair comes) get
    no objects: the recurrent network's output for a blank frame is its memory of the cells of the
    frames before, which would otherwise be found again as ghosts. With ``workers`` = 0 each pair
    is clustered here, when it is needed; otherwise in that many processes (HDBSCAN holds the GIL),
    side by side with this process producing the next embeddings, with at most two pairs per worker
    waiting. The time spent clustering, and the workers' peak memory, are noted in ``usage``.
    """
    usage = usage if usage is not None else ClusteringUsage()
    background_test = background_test if background_test is not None else {}
    background: np.ndarray | None = None
    options: dict | None = None

    def arguments(index: int, pair: np.ndarray) -> dict | None:
        """Keyword arguments of the clustering of pair ``index`` (frames index, index+1), None when it has no image."""
        nonlocal background, options
        if options is None:
            m_pts, c, max_step = clustering_on_grid(preset, pair.shape[-2:])
            options = {"m_pts": m_pts, "c": c, "mode": mode, "jobs": jobs, "max_step": max_step}
        if not np.isfinite(pair).all():
            raise CTCInputError(f"frame {index + len(pair) - 1}: the network gave NaN or infinite embeddings")
        without_image = tuple(index + k < len(blank) and blank[index + k] for k in range(len(pair)))
        if all(without_image):
            return None
        if background is None:
            first = pair[~np.array(without_image)]
            background = background_embedding(first)
            background_test["cosine"] = foreground_threshold(first, background, preset.background_cosine)
        threshold = background_test["cosine"]
        return {"background": background, "background_cosine": threshold, "without_image": without_image, **options}

    def nothing_found(pair: np.ndarray) -> tuple[np.ndarray, float, float | None]:
        return np.zeros((len(pair), *pair.shape[2:]), dtype=np.int32), 0.0, None

    if workers == 0:
        for index, pair in enumerate(pairs):
            call = arguments(index, pair)
            labels, seconds, _ = nothing_found(pair) if call is None else timed_cluster_pair(pair, **call)
            usage.add(seconds)
            yield labels
        return
    with worker_pool(workers, jobs) as pool:
        pending: deque[Future] = deque()
        for index, pair in enumerate(pairs):
            call = arguments(index, pair)
            if call is None:
                pending.append(Future())
                pending[-1].set_result(nothing_found(pair))
            else:
                pending.append(pool.submit(timed_cluster_pair, pair, **call))
            while len(pending) > 2 * workers or (pending and pending[0].done()):
                labels, seconds, peak = pending.popleft().result()
                usage.add(seconds, peak)
                yield labels
        while pending:
            labels, seconds, peak = pending.popleft().result()
            usage.add(seconds, peak)
            yield labels


@dataclass(frozen=True)
class CorePlan:
    """How the cores are shared: threads of the network, clustering processes (0: none, cluster in
    between frames) and threads inside each clustering."""

    network_threads: int
    clustering_processes: int
    clustering_threads: int

    def apply(self) -> None:
        """Give this process (network, merge, lineage) its threads: torch's and those of numpy's
        BLAS and OpenMP pools; the clustering processes limit their own when they start."""
        torch.set_num_threads(self.network_threads)
        threadpool_limits(self.network_threads)


def available_cores() -> int:
    """Cores this process may run on (a container's or ``taskset``'s limit, not the machine's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def core_plan(device: str, cores: int | None = None, network_bound: bool = False) -> CorePlan:
    """Network and clustering side by side, each on its own cores.

    On 2 cores one network thread beside one clustering process is fastest (benchmarks/
    bench_cores.py): torch with 2 threads next to a busy clustering process ran slower, its
    threads spinning while they wait for each other. A ``network_bound`` video (a tiled grid: several
    tiles per frame, Fluo-N2DH-SIM+) keeps a clustering process mostly idle, so most cores
    go to the network: on 2 cores both, clustering in between frames (``bench_cores.py --dataset
    Fluo-N2DH-SIM+ --frames 20``, AVX2 fp32: 43.8 s against 70.8 s for 1+1). A GPU leaves the cores to clustering.
    """
    cores = cores or available_cores()
    if resolve_device(device).type != "cpu":
        return CorePlan(1, max(1, cores - 1), 1)
    if cores == 1:
        return CorePlan(1, 0, 1)
    processes = cores // 4 if network_bound else max(1, cores // 2)
    return CorePlan(cores - processes, processes, 1)


def border_band(preset: Preset, shape: tuple[int, int], grid: tuple[int, ...]) -> tuple[float, float]:
    """The preset's border (original pixels of a ``shape`` frame) in pixels of the network ``grid``, per axis."""
    rows, cols = (preset.border * size / original for size, original in zip(grid, shape))
    return rows, cols


def area_on_grid(area: float, shape: tuple[int, int], grid: tuple[int, ...]) -> float:
    """An area of original pixels of a ``shape`` frame in pixels of the network ``grid``."""
    return area * (grid[0] / shape[0]) * (grid[1] / shape[1])


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
    protected: Sequence[Path] = (),
    blank: Sequence[bool] = (),
    images: Callable[[], Iterable[np.ndarray]] | None = None,
) -> PipelineResult:
    """Everything after the network: embeddings of overlapping frame pairs (2, E, H, W) on the network
    grid in (one (1, E, H, W) stack for a one-frame video), result folder of ``shape`` masks out; the
    ``protected`` folders (the inputs) are never written or replaced; frames noted in ``blank`` get no objects.
    ``images`` gives the raw frames again, in order, for the preset's ``signal_sigmas`` (required then)."""
    report = progress or (lambda phase, done, count: None)
    clock = clock or StageClock()
    usage = ClusteringUsage()
    background_test: dict[str, float] = {}
    if preset.reads_signal and images is None:
        raise ValueError(
            "the preset measures the signal (signal_sigmas, signal_object_sigmas, min_cell_sigmas), which needs the raw frames"
        )
    labelled = clock.iterate(
        cluster_pairs(pairs, preset, clustering, jobs, workers, usage, blank, background_test), "clustering"
    )
    merged: list[np.ndarray] = []
    lookahead: list[np.ndarray] = []
    for frame in clock.iterate(merge_pairs(labelled, preset.merge_min_iou, lookahead), "merge"):
        merged.append(frame)
        report("track", len(merged), total)
    with clock.stage("lineage"):
        if images is not None and preset.reads_signal:
            signal_on_grid(merged, lookahead, images(), preset)
        grid = merged[0].shape
        rules = rules_of(on_grid(preset, grid_ratio(grid)))
        stack, tracks = build_lineage(
            np.stack(merged), rules, border_band(preset, shape, grid), np.stack(lookahead),
            area_on_grid(preset.min_cell_area, shape, grid),
        )  # fmt: skip
    del merged, lookahead
    frames = images() if images is not None and preset.signal_sigmas > 0 else None
    with SubmissionWriter(Path(output_dir), digits, overwrite, protected) as writer:
        tracks, objects = write_tracked(stack, tracks, shape, preset, writer, clock, report, frames)
        with clock.stage("write"):
            validation = writer.commit(tracks)
    seconds = {name: clock.seconds.get(name, 0.0) for name in STAGES}
    return PipelineResult(
        frames=len(stack), shape=shape, objects=objects, tracks=tracks, divisions=count_divisions(tracks),
        seconds=seconds, warnings=validation.warnings, clustering_seconds=usage.seconds,
        clustering_peak_memory_mib=usage.worker_peak_mib, background_cosine=background_test.get("cosine"),
    )  # fmt: skip


def signal_on_grid(
    merged: list[np.ndarray], lookahead: list[np.ndarray], images: Iterable[np.ndarray], preset: Preset
) -> None:
    """The raw frames' signal brought to the merged grid frames (in place) before the lineage. With
    ``signal_object_sigmas``, the cells each frame shows beside the objects join
    (:func:`~ctc_submit.tracking.intensity.signal_cells`), under labels above all of ``merged`` and
    ``lookahead``'s, the same label where a region overlaps one of the frame before
    (:class:`OverlapLinker`). Then every object is measured as it will be written (trimmed,
    :func:`ctc_submit.tracking.intensity.frame_signal`), and one that never reaches ``min_cell_area``,
    or never the brightness of ``min_cell_sigmas`` (:data:`~ctc_submit.tracking.intensity.BRIGHT_QUANTILE`
    of its pixels at least that many noise sigmas up), goes."""
    first_new = max((int(frame.max(initial=0)) for frame in (*merged, *lookahead)), default=0) + 1
    labels = itertools.count(first_new)
    linker = OverlapLinker(lambda: next(labels))
    min_area = math.ceil(preset.min_cell_area)
    largest = np.zeros(first_new)  # an object trimmed away entirely keeps area 0 ...
    brightest = np.zeros(first_new)  # ... and brightness 0
    for frame, image in zip(merged, images):
        signal = frame_signal(frame, image, preset.normalization_sigma, preset.signal_sigmas)
        written = signal.kept
        if preset.signal_object_sigmas > 0:
            found, regions = signal_cells(signal, frame.shape, preset.signal_object_sigmas, min_area)
            linked = linker.frame(found)
            frame[found > 0] = linked[found > 0]
            label_of_region = np.zeros(int(regions.max(initial=0)) + 1, dtype=written.dtype)
            label_of_region[found[found > 0]] = linked[found > 0]
            written = np.where(regions > 0, label_of_region[regions], written)
        count = int(written.max(initial=0)) + 1
        largest = _running_max(largest, np.bincount(written.ravel(), minlength=count))
        if preset.min_cell_sigmas > 0:
            levels = (
                np.full(count, np.inf)
                if signal.sigmas_above is None
                else label_quantiles(written, signal.sigmas_above, BRIGHT_QUANTILE, count)
            )
            brightest = _running_max(brightest, levels)
    too_dim = brightest < preset.min_cell_sigmas if preset.min_cell_sigmas > 0 else False
    remove_labels(merged, np.flatnonzero((largest < max(min_area, 1)) | too_dim))


def _running_max(total: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The elementwise maximum of ``total`` and ``values``, as long as the longer (missing entries 0)."""
    grown = np.zeros(max(len(total), len(values)))
    grown[: len(total)] = total
    np.maximum(grown[: len(values)], values, out=grown[: len(values)])
    return grown


def write_tracked(
    stack: np.ndarray,
    tracks: list[Track],
    shape: tuple[int, int],
    preset: Preset,
    writer: SubmissionWriter,
    clock: StageClock,
    progress: Progress,
    images: Iterable[np.ndarray] | None = None,
) -> tuple[list[Track], int]:
    """Write the lineage's labels (T, 256, 256) at ``shape``, each frame once: upsampled, trimmed to
    the signal of its raw frame from ``images`` (when given), then relabelled where an object was lost
    (:class:`Reconciler`, which needs only the frames before). Returns the tracks of what was written
    and its number of objects."""
    reconciler = Reconciler(graph_from_tracks(tracks), max((track.label for track in tracks), default=0) + 1)
    raw = iter(images) if images is not None else None
    objects = 0
    for index, labels in enumerate(stack):
        with clock.stage("upsample"):
            full = upsample_labels(labels, shape, preset.upsample_smoothing)
            if raw is not None:
                sigmas_above = significance(next(raw), preset.normalization_sigma, full == 0)
                trim_to_signal(full, sigmas_above, preset.signal_sigmas)
            full = largest_pieces(full)
            present = labels_present(full)
        with clock.stage("lineage"):
            relabel_frame(full, reconciler.frame(present))
        with clock.stage("write"):
            writer.write(index, full)
        objects += len(present)
        progress("write", index + 1, len(stack))
    with clock.stage("lineage"):
        return tracks_from_graph(reconciler.graph()), objects


def run_pipeline(
    source: Path | np.ndarray | FrameSource,
    output_dir: Path,
    model: Model,
    clustering: Mode = "fast",
    overwrite: bool = False,
    progress: Progress | None = None,
    jobs: int = 1,
    workers: int = 0,
    precision: Precision = "auto",
) -> PipelineResult:
    """Segment and track a sequence (folder of ``tNNN.tif``, TIFF stack or (T, Y, X) array) into the
    CTC result folder ``output_dir``, with the preset and recurrent window of ``model``'s card.

    Frames are read and normalised ahead in a thread: the "read" stage is the time the network
    waited for them.
    """
    frames = source if isinstance(source, FrameSource) else check_run(source, output_dir, overwrite)
    clock = StageClock()
    blank: list[bool] = []
    images = normalize_frames(noting_blank_frames(frames.images(), blank), model.preset)
    pairs = clock.iterate(
        embed_pairs(
            clock.iterate(prefetched(images), "read"),
            model.network,
            model.device,
            model.card.recurrent_window,
            precision,
        ),
        "network",
    )
    result = track_pairs(
        pairs, frames.shape, model.preset, output_dir, frames.digits,
        clustering, overwrite, progress, total=frames.count, clock=clock, jobs=jobs, workers=workers,
        protected=frames.protected, blank=blank, images=frames.images,
    )  # fmt: skip
    empty = [frames.frame_name(index) for index, is_blank in enumerate(blank) if is_blank]
    if empty:
        listed = ", ".join(empty[:3]) + (f" and {len(empty) - 3} more" if len(empty) > 3 else "")
        result.input_warnings.append(
            f"{len(empty)} blank frame(s) (a single value, no image), left without objects: {listed}"
        )
    return result
