"""``ctc-submit batch``: many sequences, each one ``ctc-submit run``, as tasks on dask.distributed."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import click

from ctc_submit.cli.errors import InputError, interruptible, user_errors
from ctc_submit.cli.options import device_option, model_option, overwrite_option
from ctc_submit.cli.validate import plural

SUMMARY_NAME = "batch_summary.csv"


def default_summary(source: Path, output_root: Path | None) -> Path:
    """Beside the manifest (``NAME.summary.csv``), else at the top of the results."""
    if source.is_file():
        return source.with_name(f"{source.stem}.summary.csv")
    return (output_root or source) / SUMMARY_NAME


def require_dask() -> None:
    """dask.distributed is an optional extra: without it, one line that says how to install it."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise InputError("ctc-submit batch needs dask.distributed: pip install 'ctc_submit[batch]'") from None


def describe_shares(shares: dict) -> str:
    parts = []
    for name, share in shares.items():
        cores = ",".join(map(str, share.cores))
        parts.append(f"{name}: cores {cores}" + (f", GPU {share.gpu}" if share.gpu is not None else ""))
    return "; ".join(parts)


def check_choices(cluster: str, scheduler: str | None, workers: int | None, cluster_config: Path | None) -> None:
    if scheduler and cluster != "local":
        raise InputError("--scheduler uses a running cluster; it cannot be combined with --cluster slurm")
    if scheduler and workers:
        raise InputError("--workers sizes a cluster this command starts; a --scheduler cluster has its own")
    if cluster_config and cluster != "slurm":
        raise InputError("--cluster-config configures --cluster slurm")


@click.command("batch", short_help="Run many sequences at once on dask.distributed.")
@click.argument("source", type=click.Path(path_type=Path))
@model_option("Model for every sequence whose manifest row names none [default: models/<DATASET>.pt].")
@click.option(
    "--output-root", type=click.Path(path_type=Path),
    help="For a challenge-layout SOURCE: write OUTPUT_ROOT/DATASET/SEQ_RES instead of SEQ_RES beside SEQ.",
)  # fmt: skip
@device_option
@click.option(
    "--score/--no-score", "score_result", default=None,
    help="Score against SEQ_GT beside each sequence [default: where it exists].",
)  # fmt: skip
@overwrite_option("Run every sequence again, replacing finished results.")
@click.option(
    "--workers", type=click.IntRange(min=1),
    help="Sequences at once: LocalCluster workers, or SLURM jobs [default: one per GPU, else one per 2 cores].",
)  # fmt: skip
@click.option("--scheduler", metavar="ADDRESS", help="Use a running dask cluster, e.g. tcp://head:8786.")
@click.option(
    "--cluster", type=click.Choice(["local", "slurm"]), default="local", show_default=True,
    help="local: a LocalCluster on this machine; slurm: one SLURM job per worker (needs ctc_submit[slurm]).",
)  # fmt: skip
@click.option(
    "--cluster-config", type=click.Path(path_type=Path),
    help="YAML of SLURMCluster options (queue, account, memory, walltime, job_cpu, job_extra_directives, ...).",
)  # fmt: skip
@click.option("--job-script", is_flag=True, help="Print the SLURM job script of one worker and exit.")
@click.option(
    "--summary", "summary_path", type=click.Path(path_type=Path),
    help="Summary CSV [default: MANIFEST.summary.csv beside a manifest, "
    f"else {SUMMARY_NAME} at the top of the results].",
)  # fmt: skip
@user_errors
@interruptible
def command(
    source, model_path, output_root, device, score_result, overwrite, workers, scheduler, cluster, cluster_config,
    job_script, summary_path,
):  # fmt: skip
    """Run every sequence of SOURCE, each as one 'ctc-submit run', on a dask cluster.

    SOURCE is a manifest (.csv with a header line, or .yaml: a list of mappings) with the columns
    input, output, dataset and optionally model and name (paths relative to the manifest), or a
    folder in the challenge layout: every DATASET/SEQ under it (or every SEQ of a dataset folder)
    goes to SEQ_RES. A finished, valid result (with its run report) is kept, so a rerun does only
    what is missing. Exit status: 0 when every sequence succeeded, 1 when one failed, 2 bad input.
    """
    require_dask()
    from ctc_submit.batch.cluster import local_client, local_shares, scheduler_client, slurm_client, slurm_job_script
    from ctc_submit.batch.manifest import load_items
    from ctc_submit.batch.runner import dashboard_link, run_batch
    from ctc_submit.batch.summary import format_table, summary_row, write_summary

    check_choices(cluster, scheduler, workers, cluster_config)
    if job_script:
        if cluster != "slurm":
            raise InputError("--job-script shows the job script of --cluster slurm")
        click.echo(slurm_job_script(cluster_config), nl=False)
        return
    items = load_items(source, output_root, model_path)
    summary = summary_path or default_summary(source, output_root)
    if not summary.parent.is_dir():
        raise InputError(f"{summary}: folder {summary.parent} not found for the summary")
    echo = functools.partial(click.echo, err=True)  # progress on stderr, the table on stdout
    started = time.perf_counter()
    if scheduler:
        echo(f"{plural(len(items), 'sequence')} on the cluster at {scheduler}")
        client_context = scheduler_client(scheduler)
    elif cluster == "slurm":
        jobs = workers or len(items)
        echo(f"{plural(len(items), 'sequence')} on up to {plural(jobs, 'SLURM job')}")
        client_context = slurm_client(jobs, cluster_config)
    else:
        shares = local_shares(workers, device)
        workers_line = f"a local cluster of {plural(len(shares), 'worker')} ({describe_shares(shares)})"
        echo(f"{plural(len(items), 'sequence')} on {workers_line}")
        client_context = local_client(shares)
    with client_context as client:
        link = dashboard_link(client)
        if link:
            echo(f"dashboard: {link}")
        outcomes = run_batch(client, items, device, score_result, overwrite, echo)
    rows = [summary_row(outcome) for outcome in outcomes]
    for line in format_table(rows):
        click.echo(line)
    try:
        write_summary(summary, rows)
    except OSError as error:
        raise click.ClickException(f"{summary}: cannot write the summary ({error.strerror})") from None
    failed = sum(not outcome.ok for outcome in outcomes)
    elapsed = time.perf_counter() - started
    click.echo(f"summary: {summary}")
    click.echo(f"{len(items) - failed} of {len(items)} sequences succeeded, {failed} failed, in {elapsed:.1f} s")
    if failed:
        click.get_current_context().exit(1)
