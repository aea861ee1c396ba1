"""Submit every sequence to a dask cluster, follow them and collect one outcome each."""

from __future__ import annotations

import importlib.util
import threading
from typing import Callable

from distributed import Client, as_completed

from ctc_submit.batch.manifest import SequenceItem
from ctc_submit.batch.task import EVENTS_TOPIC, SequenceOutcome, run_sequence

Echo = Callable[[str], None]


class BatchProgress:
    """Done / running / failed counts, and one line each time a sequence starts or ends.

    A start comes as a worker event, an end as the task's result; events may arrive late,
    so a start is ignored once the sequence has ended.
    """

    def __init__(self, total: int, echo: Echo) -> None:
        self.total = total
        self.echo = echo
        self.running: set[str] = set()
        self.ended: set[str] = set()
        self.done = self.skipped = self.failed = 0
        self.lock = threading.Lock()

    def counts(self) -> str:
        waiting = self.total - len(self.ended) - len(self.running)
        finished = f"{self.done} done" + (f" ({self.skipped} finished before)" if self.skipped else "")
        return f"[{finished}, {len(self.running)} running, {self.failed} failed, {waiting} waiting]"

    def started(self, event: tuple[float, dict]) -> None:
        _, message = event
        with self.lock:
            if message["name"] in self.ended:
                return
            self.running.add(message["name"])
            self.echo(f"started  {message['name']} on worker {message['worker_name']}  {self.counts()}")

    def finished(self, outcome: SequenceOutcome) -> None:
        with self.lock:
            self.running.discard(outcome.name)
            self.ended.add(outcome.name)
            if outcome.status == "failed":
                self.failed += 1
                line = f"FAILED   {outcome.name}: {outcome.error}"
            else:
                self.done += 1
                self.skipped += outcome.status == "skipped"
                took = "finished before" if outcome.status == "skipped" else f"{outcome.seconds:.1f} s"
                line = f"{outcome.status:<8} {outcome.name} ({took})"
            self.echo(f"{line}  {self.counts()}")


def one_line(error: BaseException) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())


def run_batch(
    client: Client, items: list[SequenceItem], device: str, score: bool | None, overwrite: bool, echo: Echo
) -> list[SequenceOutcome]:
    """Each sequence as one task; returns the outcomes in the order of ``items``.

    A task that raised (its worker was lost more often than dask retries, or a defect of this
    module) is that sequence's failure and does not stop the others.
    """
    progress = BatchProgress(len(items), echo)
    client.subscribe_topic(EVENTS_TOPIC, progress.started)
    futures = {client.submit(run_sequence, item, device, score, overwrite, pure=False): item for item in items}
    outcomes: dict[str, SequenceOutcome] = {}
    try:
        for future in as_completed(futures):
            item = futures[future]
            try:
                outcome = future.result()
            except Exception as error:
                outcome = SequenceOutcome(item.name, "failed", error=one_line(error))
            outcomes[item.name] = outcome
            progress.finished(outcome)
    finally:
        client.unsubscribe_topic(EVENTS_TOPIC)
    return [outcomes[item.name] for item in items]


def dashboard_link(client: Client) -> str | None:
    """The dask dashboard's address, when the scheduler serves it (it needs bokeh)."""
    if importlib.util.find_spec("bokeh") is None or "dashboard" not in client.scheduler_info().get("services", {}):
        return None
    return client.dashboard_link
