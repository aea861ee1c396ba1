"""The run report: everything needed to reproduce and judge a result, as JSON beside it.

It lives next to the result folder, never inside it: a CTC result folder must hold only the
masks and ``res_track.txt``. Its name carries the result folder's (``01_RES.run_report.json``)
so the reports of several sequences of one dataset do not overwrite each other.
"""

from __future__ import annotations

import dataclasses
import json
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from ctc_submit.io import write_atomically
from ctc_submit.pipeline import STAGES, PipelineResult
from ctc_submit.presets import Preset
from ctc_submit.resources import peak_memory_mib
from ctc_submit.tracking.lineage import lineage_counts

PACKAGES = ("ctc_submit", "numpy", "scipy", "torch", "hdbscan", "scikit-learn", "networkx", "tifffile", "click")


def report_path(output_dir: Path) -> Path:
    output_dir = Path(output_dir)
    return output_dir.with_name(f"{output_dir.name}.run_report.json")


def software_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def build_report(
    input_dir: Path,
    output_dir: Path,
    preset: Preset,
    model_path: Path,
    card: dict,
    parameters: dict,
    result: PipelineResult,
    total_seconds: float,
    scores: dict[str, float | None] | None,
    score_error: str | None,
    gt_lineage: dict[str, int] | None = None,
    cell_table: Path | None = None,
) -> dict:
    """``gt_lineage``: the ground truth's lineage counts, shown next to the result's where GT exists."""
    clustering_peak = result.clustering_peak_memory_mib
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "input": str(Path(input_dir).resolve()),
        "output": str(Path(output_dir).resolve()),
        "dataset": preset.name,
        "model": {"path": str(Path(model_path).resolve()), "card": card},
        "preset": dataclasses.asdict(preset),
        # the preset's background_cosine, or the split between the modes of a spread-out background
        "background_cosine_used": result.background_cosine,
        "parameters": parameters,
        "software": software_versions(),
        "timings_s": {**{stage: round(result.seconds[stage], 3) for stage in STAGES}, "total": round(total_seconds, 3)},
        "clustering_busy_s": round(result.clustering_seconds, 3),
        "peak_memory_mib": round(peak_memory_mib(), 1),
        # the largest clustering process's own peak; null when clustering ran in this process
        "peak_memory_clustering_process_mib": None if clustering_peak is None else round(clustering_peak, 1),
        "counts": {
            "frames": result.frames,
            "objects": result.objects,
            "tracks": len(result.tracks),
            "divisions": result.divisions,
        },
        "lineage": {"result": lineage_counts(result.tracks), "ground_truth": gt_lineage},
        "cell_table": str(Path(cell_table).resolve()) if cell_table else None,
        "frame_size": list(result.shape),
        "warnings": result.warnings,
        "input_warnings": result.input_warnings,
        "scores": scores,
        "score_error": score_error,
    }


def write_report(path: Path, report: dict) -> None:
    """Write atomically: a reader never sees half a report, and a failed write leaves nothing."""
    text = json.dumps(report, indent=2, default=str) + "\n"
    write_atomically(Path(path), lambda target: target.write_text(text))
