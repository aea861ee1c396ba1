"""Wall time, seconds per frame, peak memory and scores of ``ctc-submit run`` on sequence 01 of each dataset.

    python benchmarks/bench_datasets.py [--datasets DIC-HeLa,Fluo-N2DH-SIM+] [--frames N]
        [--stand-in-model models/DIC-C2DH-HeLa.pt] [--data-root ../shared/ctc-data] [--json FILE]

By default every dataset with a preset (``ctc_submit/presets.py``) and a sequence 01 under the data
root. For each, the user's command ``ctc-submit run DATA/01 RES/01_RES --dataset D`` runs in its own
process (``--score`` where ``DATA/01_GT`` exists), and its run report gives: frames, frame size, the
network grid (256x256 resized, or tiled at the preset's ``network_scale``), the process's wall time
(start-up to exit, the scoring's second or two included) and seconds per frame, peak memory,
per-stage times, CPU, device and precision, SEG/TRA/DET, and whether the run meets the targets:

- at most 1 s per frame on the 256x256 grid, at most 3 s per frame on a tiled one (network_scale > 0);
- at most 2048 MiB of peak memory: the run's peak plus those of the processes it starts (the clustering
  processes, spawned, and their resource tracker), each sampled from ``/proc`` (see ``_runs.py``); their
  peaks need not coincide, so the sum is an upper bound. Where ``/proc`` is missing, the run report's
  figures stand in: the main process's plus the largest clustering process's for each of them.

A dataset has a model when ``ctc-submit models`` lists it. ``--stand-in-model`` runs the others with
that file's weights, so their speed and memory can be measured before their model exists: its card
keeps the network and its recurrent window but drops the values of the dataset it was trained for
(normalisation, network_scale, preset overrides), so the run takes the dataset's own preset and grid.
Such rows are marked "stand-in model" and not scored; without it they say "no model".

``--frames N`` runs only the first N frames (GT cut to them), to check the benchmark itself: the
process's start-up, a few seconds, then dominates the seconds per frame.

Take the timings with other jobs paused: any other process on the cores slows every stage. The
1-minute load average before and after each run is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))  # the layout helper of the tests

from _runs import RunFailed, run_command, summarise  # noqa: E402
from ctc_layout import copy_first_frames  # noqa: E402

from ctc_submit.datasets import dataset_named  # noqa: E402
from ctc_submit.io import CTCInputError, list_frames  # noqa: E402
from ctc_submit.model.compute import CpuReport  # noqa: E402
from ctc_submit.pipeline import STAGES  # noqa: E402
from ctc_submit.presets import PRESETS, get_preset  # noqa: E402
from ctc_submit.registry import available_models  # noqa: E402

SHARED = Path(os.environ.get("CTC_SUBMIT_SHARED", REPO_ROOT.parent / "shared"))
SEQUENCE = "01"
SECONDS_PER_FRAME = {"256x256": 1.0, "tiled": 3.0}
PEAK_MEMORY_MIB = 2048
# Card entries that belong to the dataset a model was trained for, not to its network.
DATASET_CARD_ENTRIES = ("normalization", "preset_overrides")


def dataset_names(text: str) -> list[str]:
    """``A,B`` as challenge names (short names accepted); each must have a preset."""
    try:
        return [get_preset(dataset_named(name.strip()).name).name for name in text.split(",") if name.strip()]
    except CTCInputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def stand_in(model: Path, dataset: str, folder: Path) -> Path:
    """A copy of ``model`` whose card names ``dataset`` and leaves its preset and grid as they are."""
    saved = torch.load(model, map_location="cpu", weights_only=True)
    card = {key: value for key, value in saved["card"].items() if key not in DATASET_CARD_ENTRIES}
    path = folder / f"{dataset}.stand-in.pt"
    torch.save({**saved, "card": {**card, "dataset": dataset, "stand_in_for": str(model)}}, path)
    return path


def targets(summary: dict) -> list[str]:
    """The targets the run misses, as ``measured > limit`` (none: it meets them all)."""
    limit = SECONDS_PER_FRAME["tiled" if summary["network_scale"] > 0 else "256x256"]
    misses = []
    if summary["s_per_frame"] > limit:
        misses.append(f"{summary['s_per_frame']:.2f} s/frame > {limit:g}")
    if summary["peak_memory_total_mib"] > PEAK_MEMORY_MIB:
        misses.append(f"{summary['peak_memory_total_mib']:.0f} MiB > {PEAK_MEMORY_MIB}")
    return misses


def measure(dataset: str, arguments: argparse.Namespace, work: Path) -> dict:
    """One dataset's row: the run's summary and verdict, or why there is none."""
    source = arguments.data_root / dataset
    models = available_models()
    if dataset in models:
        row: dict = {"dataset": dataset, "model": models[dataset].origin}
        model_options: list[str] = []
    elif arguments.stand_in_model:
        row = {"dataset": dataset, "model": "stand-in model"}
        model_options = ["--model", str(stand_in(arguments.stand_in_model, dataset, work))]
    else:
        return {"dataset": dataset, "model": "no model", "result": "no model"}
    if not (source / SEQUENCE).is_dir():
        return {**row, "result": f"no data ({source / SEQUENCE})"}
    sequence = source / SEQUENCE
    with_gt = (source / f"{SEQUENCE}_GT").is_dir()
    if arguments.frames:
        count = min(arguments.frames, len(list_frames(sequence)))
        sequence = copy_first_frames(source, work / dataset, SEQUENCE, count, with_gt=with_gt)
    scored = with_gt and row["model"] != "stand-in model"
    options = [
        *model_options, "--device", arguments.device, "--precision", arguments.precision,
        "--score" if scored else "--no-score",
    ]  # fmt: skip
    load_before = os.getloadavg()[0]
    try:
        summary = summarise(run_command(sequence, work / dataset / f"{SEQUENCE}_RES", dataset, *options))
    except RunFailed as error:
        return {**row, "result": f"failed: {error}"}
    summary["s_per_frame"] = round(summary["wall_s"] / summary["frames"], 3)
    processes = summary["compute"]["clustering_processes"]
    sampled = summary["sampled_peak_memory_mib"]
    summary["peak_memory_total_mib"] = round(
        sampled["run"] + sampled["started_processes"]
        if sampled
        else summary["peak_memory_mib"] + processes * (summary["peak_memory_clustering_process_mib"] or 0.0),
        1,
    )
    misses = targets(summary)
    return {
        **row,
        **summary,
        "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "result": "meets targets" if not misses else "misses: " + "; ".join(misses),
    }


def memory(row: dict) -> str:
    """Peak memory of the run and of the processes it started, sampled where possible, else as reported."""
    sampled = row["sampled_peak_memory_mib"]
    if sampled:
        return f"{sampled['run']:.0f} + {sampled['started_processes']:.0f}"
    clustering = row["peak_memory_clustering_process_mib"]
    started = f" + {clustering:.0f}" if clustering is not None else ""
    return f"{row['peak_memory_mib']:.0f}{started} (run report)"


def table(rows: list[dict]) -> str:
    """The rows as a markdown table; a row without a run has only its dataset, model and result."""
    header = [
        "dataset", "model", "frames", "frame", "grid", "wall s", "s/frame", "peak MiB (run + started)",
        *STAGES, "CPU, precision", "SEG", "TRA", "DET", "result", "load",
    ]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        if "frames" not in row:
            cells = [row["dataset"], row["model"], *["-"] * (len(header) - 4), row["result"], "-"]
        else:
            grid = "x".join(map(str, row["network_grid"]))
            scores = row["scores"] or {}
            cells = [
                row["dataset"], row["model"], str(row["frames"]), "x".join(map(str, row["frame_size"])),
                grid if not row["network_scale"] else f"{grid} ({row['network_scale']:g}, {row['tiles']} tiles)",
                f"{row['wall_s']:.1f}", f"{row['s_per_frame']:.2f}",
                memory(row),
                *(f"{row['timings_s'][stage]:.1f}" for stage in STAGES),
                f"{row['compute']['device']} {row['compute']['cpu']}, {row['compute']['precision']}",
                *("-" if scores.get(name) is None else f"{scores[name]:.4f}" for name in ("SEG", "TRA", "DET")),
                row["result"], "{} / {}".format(*row["load_average_1min_before_after"]),
            ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=dataset_names, help="Comma-separated [default: every preset with data].")
    parser.add_argument("--data-root", type=Path, default=SHARED / "ctc-data")
    parser.add_argument("--frames", type=int, default=0, help="Only the first N frames (0: all).")
    parser.add_argument("--stand-in-model", type=Path, help="Model file for the datasets without a model.")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    parser.add_argument("--json", type=Path, help="Also write the rows to this file.")
    arguments = parser.parse_args()
    datasets = arguments.datasets or [name for name in PRESETS if (arguments.data_root / name / SEQUENCE).is_dir()]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for dataset in datasets:
            print(f"{dataset} ...", flush=True)
            rows.append(measure(dataset, arguments, Path(folder)))
            print(json.dumps(rows[-1]), flush=True)
    machine = {"cpus": os.cpu_count(), "cpu": CpuReport.here().describe(), "load_average": os.getloadavg()}
    print(json.dumps(machine))
    print(table(rows))
    if arguments.json:
        arguments.json.write_text(json.dumps({"rows": rows, "machine": machine}, indent=2) + "\n")


if __name__ == "__main__":
    main()
