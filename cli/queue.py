"""`pronscore enqueue`, `worker`, `status` and `sweep`: the nightly job."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from cli.common import console, err_console, fail, settings
from producer.client import EnqueueResult, ScoringClient
from producer.manifest import ManifestError
from scoring.failures import UnknownReason


def enqueue(
    manifest: Path = typer.Argument(..., help="CSV or JSON Lines manifest."),
    run: str | None = typer.Option(None, "--run", help="Run name (default: run-<UTC timestamp>)."),
) -> None:
    """Validate a manifest, decode and upload its audio, register recordings, form batches and enqueue them.

    Prints the run's name. Exit status 0: every row is in; 1: some rows were rejected or failed
    at intake (the rest are in); 2: nothing was enqueued (every row rejected, or the manifest,
    the configuration or a service failed).
    """
    client = ScoringClient(settings())
    columns = (TextColumn("enqueueing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("enqueue", total=None)
        try:
            result = client.enqueue_manifest(
                manifest, run, progress=lambda done, total: progress.update(task, completed=done, total=total)
            )
        except ManifestError as error:
            fail(f"{error}; nothing was registered")
    for error in result.rejected:
        err_console.print(f"[yellow]rejected[/] {manifest.name} {error}", highlight=False)
    for error in result.failed_at_intake:
        err_console.print(f"[yellow]failed at intake[/] {manifest.name} {error}", highlight=False)
    err_console.print(_summary(result))
    if result.nothing_enqueued:
        fail(f"{manifest.name}: no row could be enqueued; no run was created")
    if not result.sent:
        _warn_unsent()
    if result.run_id is not None:
        print(result.run)
    if result.rejected or result.failed_at_intake:
        raise typer.Exit(1)


def _summary(result: EnqueueResult) -> Table:
    title = f"run {result.run}" if result.run_id is not None else "no new run: nothing needed scoring"
    summary = Table(title=title, show_header=False)
    for label, value in (
        ("accepted (queued for scoring)", result.registered),
        ("  of which new audio for a known id", result.new_versions),
        ("already known", result.already_known),
        ("corrected (text, learner, class or date)", result.corrected),
        ("failed at intake (not audio: registered as failed, not uploaded)", len(result.failed_at_intake)),
        ("rejected (not registered)", len(result.rejected)),
        ("uploaded to the store", result.uploaded),
        ("batches enqueued", len(result.batches)),
    ):
        summary.add_row(label, str(value))
    return summary


def retry(
    run: str = typer.Argument(..., help="Run name or id."),
    reason: str | None = typer.Option(None, "--reason", help="Only recordings failed for this reason."),
) -> None:
    """Queue a run's failed recordings again, attempts reset (after fixing what failed them)."""
    try:
        outcome = ScoringClient(settings()).retry(run, reason)
    except UnknownReason as error:
        fail(str(error))
    console.print(
        f"run {outcome.run}: {outcome.requeued} failed recordings queued again in {len(outcome.batches)} batches",
        highlight=False,
    )
    if not outcome.sent:
        _warn_unsent()


def _warn_unsent() -> None:
    err_console.print("[yellow]warning:[/] the broker is unreachable; `pronscore sweep` will send the batches")


def status(run: str | None = typer.Argument(None, help="Run name or id (default: the newest run).")) -> None:
    """Recordings per status and failure reason, progress of running batches, throughput, and time left."""
    state = ScoringClient(settings()).status(run)
    console.print(f"run {state.run}: {state.total} recordings", highlight=False)
    table = Table()
    table.add_column("status")
    table.add_column("recordings", justify="right")
    for name, count in state.counts.items():
        table.add_row(name, str(count))
    for reason, count in state.failures.items():
        table.add_row(f"  failed: {reason}", str(count))
    console.print(table)
    for batch in state.running:
        total = "?" if batch.chunks_total is None else batch.chunks_total
        console.print(f"batch {batch.batch_id}: {batch.chunks_done} of {total} chunks scored", highlight=False)
    if state.recordings_per_second:
        left = f", about {state.seconds_left:.0f} s left" if state.remaining else ""
        console.print(f"{state.recordings_per_second:.2f} recordings/s{left}", highlight=False)


def sweep(
    every: bool = typer.Option(False, "--every", help="Keep sweeping at the configured interval."),
    heartbeat: Path | None = typer.Option(
        None, "--heartbeat", help="Touch this file after each sweep that reached the database and broker."
    ),
) -> None:
    """Re-enqueue batches whose lease expired or whose message was lost.

    Once, a failure ends it with exit status 2; with --every it is printed and the next round
    tries again, so an outage heals without a restart."""
    from cli.errors import explain
    from pronscore.queue import make_celery
    from worker.sweep import SweepResult, sweep_every
    from worker.sweep import sweep as sweep_once

    def report(result: SweepResult) -> None:
        console.print(
            f"sweep: {len(result.expired)} expired leases, {len(result.resent)} batches re-sent", highlight=False
        )
        if heartbeat is not None:
            heartbeat.touch()

    def recover(error: Exception) -> bool:
        message = explain(error)
        if message is not None:
            wait = settings().sweep_interval_seconds
            err_console.print(f"[yellow]sweep failed:[/] {escape(message)}; trying again in {wait} s", highlight=False)
        return message is not None

    app = make_celery(settings())
    if every:
        sweep_every(settings(), app, report, recover)
    else:
        report(sweep_once(settings(), app))


def worker(
    drain: bool = typer.Option(False, "--drain", help="Exit once nothing is queued or running."),
    concurrency: int | None = typer.Option(
        None,
        "--concurrency",
        min=1,
        help="Worker processes (default: one per usable core with the gop engine, one with phi4mm: "
        "run one phi4mm worker per GPU).",
    ),
    drain_interval: float = typer.Option(5.0, "--drain-interval", min=0.5, help="Seconds between drain checks."),
    loglevel: str = typer.Option("INFO", "--loglevel"),
) -> None:
    """Start a worker: it scores the batches of queue `gpu` with the configured engine, on a GPU
    (phi4mm) or on the CPU cores (gop)."""
    from engines.registry import configured_engine
    from pronscore import logs
    from pronscore.queue import QUEUE
    from worker.processes import default_concurrency, metrics_folder, usable_cores

    engine = configured_engine()
    engine.settings()  # a bad engine setting stops the worker now, not at its first batch
    logs.configure(loglevel)
    with metrics_folder():
        from worker import metrics
        from worker.drain import Drain
        from worker.tasks import app

        metrics.serve(settings().metrics_port)
        draining = Drain.for_settings(settings(), app, drain_interval)
        if drain:
            draining.start()
        app.worker_main(
            [
                "worker",
                "-Q",
                QUEUE,
                "-c",
                str(concurrency or default_concurrency(engine, usable_cores())),
                "--loglevel",
                loglevel,
                "-n",
                f"pronscore-{os.getpid()}@%h",
            ]
        )
    if draining.gave_up:
        fail(draining.gave_up)
