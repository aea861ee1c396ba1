"""Where the sequences run: a dask cluster on this machine, an existing one, or SLURM jobs.

Every worker runs one sequence at a time (one thread). On this machine the cores are split
between the workers by CPU affinity, which each ``run`` subprocess inherits, so its core plan
(one network thread beside one clustering process on 2 cores) splits only its own share and
nothing is oversubscribed; with GPUs each worker gets one (``CUDA_VISIBLE_DEVICES``). On SLURM
each job is one such worker on the CPUs (and GPU) the job was given.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import dask
from distributed import Client, LocalCluster, WorkerPlugin

from ctc_submit.batch.task import stop_running_sequences
from ctc_submit.io import CTCInputError
from ctc_submit.pipeline import available_cores

# One sequence per worker at a time: the scheduler keeps the others queued instead of lining
# them up behind a long sequence on a busy worker while another worker is free.
ONE_TASK_PER_THREAD = {"distributed.scheduler.worker-saturation": 1.0}
# SLURM jobs of one single-threaded worker each; job_cpu is the CPUs a sequence gets.
SLURM_DEFAULTS = {"cores": 1, "processes": 1, "job_cpu": 2}


@dataclass(frozen=True)
class WorkerShare:
    """The cores a worker (and its runs) may use, and its GPU, if any."""

    cores: tuple[int, ...]
    gpu: int | None = None


class SequenceWorker(WorkerPlugin):
    """Confines a worker to its share when it starts (again after a restart: the plugin is kept by
    the scheduler) and stops its runs when it closes, so that none outlives it."""

    name = "ctc-submit-sequence-worker"

    def __init__(self, shares: dict[str, WorkerShare] | None = None) -> None:
        self.shares = shares or {}

    def setup(self, worker) -> None:
        share = self.shares.get(str(worker.name))
        if share is None:
            return
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, share.cores)
        if share.gpu is not None:
            os.environ["CUDA_VISIBLE_DEVICES"] = str(share.gpu)

    def teardown(self, worker) -> None:
        stop_running_sequences()


def cpu_list() -> list[int]:
    """The cores this process may run on, in order."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(available_cores()))


def split_cores(cores: list[int], workers: int) -> list[tuple[int, ...]]:
    """Contiguous shares as equal as can be; with more workers than cores, they share cores in turn."""
    if workers >= len(cores):
        return [(cores[index % len(cores)],) for index in range(workers)]
    size, extra = divmod(len(cores), workers)
    shares, start = [], 0
    for index in range(workers):
        end = start + size + (index < extra)
        shares.append(tuple(cores[start:end]))
        start = end
    return shares


def gpu_count(device: str) -> int:
    """CUDA devices the runs will use: none when the device is not CUDA (or auto without one)."""
    if device not in ("auto", "cuda"):
        return 0
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def default_workers(cores: int, gpus: int) -> int:
    """One sequence per GPU; on CPUs one per two cores, the split ``run`` finds fastest."""
    return gpus if gpus else max(1, cores // 2)


def worker_shares(workers: int, cores: list[int], gpus: int) -> dict[str, WorkerShare]:
    """Worker name (LocalCluster numbers them from 0) -> its share of the cores and GPUs."""
    return {
        str(index): WorkerShare(share, index % gpus if gpus else None)
        for index, share in enumerate(split_cores(cores, workers))
    }


def local_shares(workers: int | None, device: str) -> dict[str, WorkerShare]:
    """This machine's cores (and GPUs) split between ``workers`` (default: sized to the machine)."""
    cores = cpu_list()
    gpus = gpu_count(device)
    return worker_shares(workers or default_workers(len(cores), gpus), cores, gpus)


@contextlib.contextmanager
def local_client(shares: dict[str, WorkerShare]) -> Iterator[Client]:
    """A LocalCluster of one single-threaded process per share under a nanny (which restarts a lost
    one); memory is not limited, as the runs' memory is not the worker's."""
    with dask.config.set(ONE_TASK_PER_THREAD):
        with LocalCluster(
            n_workers=len(shares), threads_per_worker=1, processes=True, memory_limit=0,
            dashboard_address=":0",  # any free port: other clusters may run here
        ) as cluster, Client(cluster) as client:  # fmt: skip
            client.register_plugin(SequenceWorker(shares))
            yield client


@contextlib.contextmanager
def scheduler_client(address: str) -> Iterator[Client]:
    """A client of a cluster started elsewhere; its workers keep their own cores and GPUs."""
    try:
        client = Client(address, timeout="30s")
    except (OSError, TimeoutError, ValueError) as error:
        raise CTCInputError(f"scheduler {address}: cannot connect ({error})", "scheduler") from None
    with client:
        client.register_plugin(SequenceWorker())
        yield client


def read_cluster_config(path: Path | None) -> dict:
    """SLURMCluster keyword arguments from a YAML mapping (queue, account, memory, walltime, job_cpu, ...)."""
    if path is None:
        return {}
    import yaml

    try:
        options = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as error:
        raise CTCInputError(f"{path}: cannot read ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise CTCInputError(f"{path}: not valid YAML ({' '.join(str(error).split())})") from None
    if not isinstance(options, dict):
        raise CTCInputError(f"{path}: expected a mapping of SLURMCluster options (memory, walltime, job_cpu, ...)")
    return options


def slurm_cluster(config: Path | None):
    """A SLURMCluster (dask-jobqueue) from our defaults, dask's jobqueue configuration and ``config``."""
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise CTCInputError("a Slurm cluster needs dask-jobqueue: pip install 'ctc_submit[slurm]'", "cluster") from None
    options = {**SLURM_DEFAULTS, **read_cluster_config(config)}
    try:
        with dask.config.set(ONE_TASK_PER_THREAD):
            return SLURMCluster(**options)
    except (TypeError, ValueError) as error:
        raise CTCInputError(f"Slurm cluster: {' '.join(str(error).split())}", "cluster") from None


def slurm_job_script(config: Path | None) -> str:
    """The job script each SLURM worker would be submitted with (no job is submitted)."""
    with slurm_cluster(config) as cluster:
        return cluster.job_script()


@contextlib.contextmanager
def slurm_client(jobs: int, config: Path | None) -> Iterator[Client]:
    """``jobs`` SLURM jobs of one worker each, cancelled when the batch ends."""
    with slurm_cluster(config) as cluster, Client(cluster) as client:
        client.register_plugin(SequenceWorker())
        cluster.scale(jobs=jobs)
        yield client
