"""`pronscore enqueue`, `worker`, `status` and `sweep`: the nightly job."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import typer
from celery import Celery
from kombu.exceptions import OperationalError as BrokerError
from kombu.utils.url import maybe_sanitize_url
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from cli.common import console, err_console, fail, settings
from producer.client import EnqueueResult, ScoringClient
from producer.manifest import ManifestError
from scoring.failures import UnknownReason

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
    from worker.sweep import sweep as run_sweep

    app = make_celery(settings())
    while True:
        try:
            result = run_sweep(settings(), app)
        except Exception as error:
            message = explain(error)
            if not every or message is None:
                raise
            wait = settings().sweep_interval_seconds
            err_console.print(f"[yellow]sweep failed:[/] {escape(message)}; trying again in {wait} s", highlight=False)
        else:
            console.print(
                f"sweep: {len(result.expired)} expired leases, {len(result.resent)} batches re-sent",
                highlight=False,
            )
            if heartbeat is not None:
                heartbeat.touch()
        if not every:
            return
        time.sleep(settings().sweep_interval_seconds)


def _broker_reachable(app: Celery) -> bool:
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
    except BrokerError as error:
        log.warning("the broker is unreachable: %s", error)
        return False
    return True


@dataclass
class _Drain:
    """Stops the worker once no batch is queued or running, or once the broker has been out of
    reach for `broker_wait` seconds (then `gave_up` says so)."""

    interval: float
    broker_wait: float
    gave_up: str | None = None

    def run(self) -> None:
        from db.batches import pending_work
        from db.session import session_scope
        from pronscore.queue import make_celery
        from worker.sweep import sweep as run_sweep

        app = make_celery(settings())
        reached = time.monotonic()
        idle_checks = 0
        while True:
            time.sleep(self.interval)
            if not _broker_reachable(app):
                if time.monotonic() - reached >= self.broker_wait:
                    self.gave_up = (
                        f"the broker at {maybe_sanitize_url(settings().redis_url)} has been unreachable for "
                        f"{self.broker_wait:.0f} s (PRONSCORE_BROKER_WAIT_SECONDS); the draining worker gives up"
                    )
                    log.error(self.gave_up)
                    os.kill(os.getpid(), signal.SIGTERM)
                    return
                continue
            reached = time.monotonic()
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
    from engines.registry import configured_engine
    from pronscore import logs
    from pronscore.queue import QUEUE
    from worker.tasks import app

    configured_engine().settings()  # a bad engine setting stops the worker now, not at its first batch
    logs.configure(loglevel)
    draining = _Drain(drain_interval, settings().broker_wait_seconds)
    if drain:
        threading.Thread(target=draining.run, daemon=True, name="drain").start()
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
    if draining.gave_up:
        fail(draining.gave_up)
