"""``ctc-submit batch`` in-process: a LocalCluster of two workers over three short sequences, one with a
corrupt frame; a rerun that finishes only what is missing; one-line errors; the SLURM job script."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from click.testing import CliRunner
from ctc_layout import copy_first_frames, save_tiny_model

from ctc_submit.batch.cluster import cpu_list, split_cores
from ctc_submit.cli import main
from ctc_submit.pipeline import core_plan
from ctc_submit.validate import validate_result

DATASET = "DIC-C2DH-HeLa"
FRAMES = 4


def invoke(*args):
    return CliRunner().invoke(main, ["batch", *map(str, args)])


def summary(path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as file:
        return {row["sequence"]: row for row in csv.DictReader(file)}


@pytest.fixture()
def layout(ctc_data, tmp_path):
    """01 with GT, 02 without, 03 a copy of 01 whose frame t002 is cut short."""
    data = tmp_path / "data" / DATASET
    copy_first_frames(ctc_data / DATASET, data, "01", FRAMES)
    copy_first_frames(ctc_data / DATASET, data, "02", FRAMES, with_gt=False)
    shutil.copytree(data / "01", data / "03")
    (data / "03" / "t002.tif").write_bytes((data / "01" / "t002.tif").read_bytes()[:300])
    save_tiny_model(tmp_path / "tiny.pt", DATASET)
    return tmp_path


@pytest.mark.slow
def test_a_batch_on_two_workers_reports_the_failure_and_a_rerun_finishes_only_what_is_missing(layout):
    data = layout / "data" / DATASET
    options = ["--model", layout / "tiny.pt", "--device", "cpu", "--workers", 2]
    result = invoke(layout / "data", *options)
    assert result.exit_code == 1, result.output
    assert "local cluster of 2 workers" in result.output
    assert "FAILED   DIC-C2DH-HeLa/03: Error: " in result.output and "t002.tif" in result.output
    assert "2 of 3 sequences succeeded, 1 failed" in result.output
    assert validate_result(data / "01_RES", data / "01_GT").ok and validate_result(data / "02_RES").ok
    assert not (data / "03_RES").exists() and not list(data.glob(".03_RES*"))
    first = summary(layout / "data" / "batch_summary.csv")
    assert [first[name]["status"] for name in sorted(first)] == ["done", "done", "failed"]
    assert first[f"{DATASET}/01"]["frames"] == str(FRAMES) and first[f"{DATASET}/01"]["SEG"] != ""
    assert first[f"{DATASET}/02"]["SEG"] == ""  # no GT
    assert "t002.tif" in first[f"{DATASET}/03"]["error"] and first[f"{DATASET}/03"]["frames"] == ""
    report = json.loads((data / "01_RES.run_report.json").read_text())["parameters"]
    plans = {core_plan("cpu", len(share)) for share in split_cores(cpu_list(), 2)}
    assert (report["network_threads"], report["clustering_processes"]) in {
        (plan.network_threads, plan.clustering_processes) for plan in plans
    }  # each run split its worker's share of the cores, not the machine's

    kept = {name: (data / f"{name}_RES.run_report.json").stat().st_mtime_ns for name in ("01", "02")}
    shutil.copy(data / "01" / "t002.tif", data / "03")
    result = invoke(layout / "data", *options)
    assert result.exit_code == 0, result.output
    assert "3 of 3 sequences succeeded, 0 failed" in result.output
    assert {name: (data / f"{name}_RES.run_report.json").stat().st_mtime_ns for name in ("01", "02")} == kept
    assert validate_result(data / "03_RES").ok
    second = summary(layout / "data" / "batch_summary.csv")
    assert [second[name]["status"] for name in sorted(second)] == ["skipped", "skipped", "done"]
    assert second[f"{DATASET}/01"]["SEG"] == first[f"{DATASET}/01"]["SEG"]


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = (result.output).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(
    "arguments, fragments",
    [
        (["nope"], ["nope", "no such manifest or folder"]),
        (["{tmp}", "--scheduler", "tcp://x:1", "--cluster", "slurm"], ["cannot be combined"]),
        (["{tmp}", "--scheduler", "tcp://x:1", "--workers", "2"], ["--workers"]),
        (["{tmp}", "--cluster-config", "c.yaml"], ["--cluster slurm"]),
        (["{tmp}", "--job-script"], ["--cluster slurm"]),
        (["{tmp}"], ["no sequence found"]),
        (["{tmp}/m.csv"], ["m.csv", "sequence 1: no dataset"]),
        (["{tmp}/ok.csv", "--summary", "{tmp}/no/s.csv"], ["not found for the summary"]),
        (["{tmp}/ok.csv", "--output-root", "{tmp}"], ["--output-root"]),
        (["{tmp}", "--cluster", "slurm", "--job-script", "--cluster-config", "{tmp}/bad.yaml"], ["unexpected keyword"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_any_cluster(tmp_path, arguments, fragments):
    (tmp_path / "m.csv").write_text("input,output\nA/01,A/01_RES\n")
    (tmp_path / "ok.csv").write_text("input,output,dataset\nA/01,A/01_RES,DIC-HeLa\n")
    (tmp_path / "bad.yaml").write_text("memory: 4GB\nmemroy: 8GB\n")
    assert_one_line_error(invoke(*(argument.format(tmp=tmp_path) for argument in arguments)), *fragments)


def test_the_slurm_job_script_books_the_cpus_and_gpu_of_one_single_threaded_worker(tmp_path):
    pytest.importorskip("dask_jobqueue")
    (tmp_path / "slurm.yaml").write_text(
        "queue: gpu\naccount: lab\nmemory: 32GB\nwalltime: '04:00:00'\njob_cpu: 8\n"
        "job_extra_directives: ['--gres=gpu:1']\njob_script_prologue: ['source ~/venv/bin/activate']\n"
    )
    result = invoke(tmp_path, "--cluster", "slurm", "--cluster-config", tmp_path / "slurm.yaml", "--job-script")
    assert result.exit_code == 0, result.output
    script = result.output
    for line in ("#SBATCH -p gpu", "#SBATCH -A lab", "#SBATCH --cpus-per-task=8", "#SBATCH --mem=30G",
                 "#SBATCH -t 04:00:00", "#SBATCH --gres=gpu:1", "source ~/venv/bin/activate"):  # fmt: skip
        assert line in script, script
    assert "--nthreads 1" in script and "--nworkers" not in script  # one sequence at a time per job


def test_a_running_cluster_is_used_through_its_scheduler_and_finished_results_are_kept(ctc_data, tmp_path):
    """Results made from the GT markers, with their reports: nothing to run, every one kept."""
    from distributed import LocalCluster

    data = tmp_path / DATASET
    copy_first_frames(ctc_data / DATASET, data, "01", 2)
    shutil.copytree(data / "01_GT" / "TRA", data / "01_RES", ignore=shutil.ignore_patterns("man_track.txt"))
    for index in range(2):
        (data / "01_RES" / f"man_track{index:03d}.tif").rename(data / "01_RES" / f"mask{index:03d}.tif")
    shutil.copy(data / "01_GT" / "TRA" / "man_track.txt", data / "01_RES" / "res_track.txt")
    (data / "01_RES.run_report.json").write_text(json.dumps({"counts": {"frames": 2}, "scores": {"SEG": 1.0}}))
    manifest = tmp_path / "runs.yaml"
    manifest.write_text(f"- {{input: {DATASET}/01, output: {DATASET}/01_RES, dataset: DIC-HeLa, name: hela}}\n")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        result = invoke(manifest, "--scheduler", cluster.scheduler_address)
    assert result.exit_code == 0, result.output
    assert f"on the cluster at {cluster.scheduler_address}" in result.output
    assert "skipped  hela (finished before)" in result.output
    assert summary(tmp_path / "runs.summary.csv")["hela"]["SEG"] == "1.0000"
