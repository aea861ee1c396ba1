"""The batch's summary table: one row per sequence, as CSV and as aligned text."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ctc_submit.batch.task import SequenceOutcome
from ctc_submit.io import write_atomically

COUNTS = ("frames", "objects", "tracks", "divisions")
MEASURES = ("SEG", "TRA", "DET")
COLUMNS = ("sequence", "status", *COUNTS, "wall_s", "run_s", *MEASURES, "error")


def summary_row(outcome: SequenceOutcome) -> dict[str, str]:
    """Counts and scores from the run report. ``wall_s``: the sequence's time in this batch, start
    of its process included (none for a result finished before); ``run_s``: the time the run
    that made the result reports, from loading the model to the report."""
    report = outcome.report
    counts = report.get("counts") or {}
    scores = report.get("scores") or {}
    total = (report.get("timings_s") or {}).get("total")
    row = {"sequence": outcome.name, "status": outcome.status, "error": outcome.error or ""}
    row.update({name: str(counts.get(name, "")) for name in COUNTS})
    row["wall_s"] = f"{outcome.seconds:.1f}" if outcome.status != "skipped" else ""
    row["run_s"] = f"{total:.1f}" if isinstance(total, (int, float)) else ""
    row.update({name: f"{scores[name]:.4f}" if name in scores else "" for name in MEASURES})
    return row


def write_summary(path: Path, rows: list[dict[str, str]]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(Path(path), lambda target: target.write_text(text.getvalue()))


def format_table(rows: list[dict[str, str]]) -> list[str]:
    """Aligned columns, numbers to the right; the error column is left out when nothing failed."""
    columns = [column for column in COLUMNS if column != "error" or any(row["error"] for row in rows)]
    widths = {column: max(len(column), *(len(row[column]) for row in rows)) for column in columns}
    left = {"sequence", "status", "error"}

    def line(values: dict[str, str]) -> str:
        cells = [values[c].ljust(widths[c]) if c in left else values[c].rjust(widths[c]) for c in columns]
        return "  ".join(cells).rstrip()

    return [line({column: column for column in columns}), *map(line, rows)]
