"""`pronscore enqueue`, `worker`, `status` and `sweep`: the nightly job."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from cli.common import console, err_console, fail, settings
from db.runs import UnknownRun
from producer.client import EnqueueResult, ScoringClient
from producer.manifest import ManifestError
from pronscore.storage import StorageError

log = logging.getLogger(__name__)


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
        except StorageError as error:
            fail(str(error))
    for error in result.rejected:
        err_console.print(f"[yellow]rejected[/] {manifest.name} {error}", highlight=False)
    for error in result.failed_at_intake:
        err_console.print(f"[yellow]failed at intake[/] {manifest.name} {error}", highlight=False)
    err_console.print(_summary(result))
    if result.nothing_enqueued:
        fail(f"{manifest.name}: no row could be enqueued; no run was created")
    if not result.sent:
        err_console.print("[yellow]warning:[/] the broker is unreachable; `pronscore sweep` will send the batches")
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
    run: str = typer.Argument(..., help="Run name."),
    reason: str | None = typer.Option(None, "--reason", help="Only recordings failed for this reason."),
) -> None:
    """Queue a run's failed recordings again, attempts reset (after fixing what failed them)."""
    try:
        outcome = ScoringClient(settings()).retry(run, reason)
    except UnknownRun as error:
        fail(str(error))
    console.print(
        f"run {outcome.run}: {outcome.requeued} failed recordings queued again in {len(outcome.batches)} batches",
        highlight=False,
    )
    if not outcome.sent:
        err_console.print("[yellow]warning:[/] the broker is unreachable; `pronscore sweep` will send the batches")


def status(run: str | None = typer.Argument(None, help="Run name (default: the newest run).")) -> None:
    """Recordings per status and failure reason, progress of running batches, throughput, and time left."""
    try:
        state = ScoringClient(settings()).status(run)
    except UnknownRun as error:
        fail(str(error))
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
) -> None:
    """Re-enqueue batches whose lease expired or whose message was lost."""
    from pronscore.queue import make_celery
    from worker.sweep import sweep as run_sweep

    app = make_celery(settings())
    while True:
        result = run_sweep(settings(), app)
        console.print(
            f"sweep: {len(result.expired)} expired leases, {len(result.resent)} batches re-sent",
            highlight=False,
        )
        if not every:
            return
        time.sleep(settings().sweep_interval_seconds)


def _drain_when_idle(interval: float) -> None:
    """Sweep now and then, and stop the worker once no batch is queued or running."""
    from db.batches import pending_work
    from db.session import session_scope
    from pronscore.queue import make_celery
    from worker.sweep import sweep as run_sweep

    app = make_celery(settings())
    idle_checks = 0
    while True:
        time.sleep(interval)
        try:
            run_sweep(settings(), app)
            with session_scope(settings().database_url) as session:
                pending = pending_work(session)
        except Exception:
            log.exception("drain check failed; trying again")
            continue
        idle_checks = idle_checks + 1 if pending == 0 else 0
        if idle_checks >= 2:
            log.info("no work left; the draining worker stops")
            os.kill(os.getpid(), signal.SIGTERM)
            return


def worker(
    drain: bool = typer.Option(False, "--drain", help="Exit once nothing is queued or running."),
    concurrency: int = typer.Option(1, "--concurrency", min=1, help="Worker processes; one per GPU is right."),
    drain_interval: float = typer.Option(5.0, "--drain-interval", min=0.5, help="Seconds between drain checks."),
    loglevel: str = typer.Option("INFO", "--loglevel"),
) -> None:
    """Start a GPU worker on queue `gpu`."""
    from pronscore import logs
    from pronscore.queue import QUEUE
    from worker.tasks import app

    logs.configure(loglevel)
    if drain:
        threading.Thread(target=_drain_when_idle, args=(drain_interval,), daemon=True, name="drain").start()
    app.worker_main(
        [
            "worker",
            "-Q",
            QUEUE,
            "-c",
            str(concurrency),
            "--loglevel",
            loglevel,
            "-n",
            f"pronscore-{os.getpid()}@%h",
        ]
    )
