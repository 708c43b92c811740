"""The sweep: every batch that should be in the queue gets a message.

Batches whose lease expired (their worker died or hung and stopped renewing) go back to queued
and are sent again; queued batches whose message is in neither the queue nor a worker's hands
(Redis restarted, flushed, or the send failed) are sent again too. A duplicate message is
harmless: it finds its batch claimed or done.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from celery import Celery

from db.batches import expire_leases, forget_silent_workers, queued_batches
from db.session import session_scope
from pronscore.queue import batch_ids_in_broker, send_batches
from pronscore.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepResult:
    expired: list[int]
    resent: list[int]


def sweep(settings: Settings, app: Celery) -> SweepResult:
    with session_scope(settings.database_url) as session:
        expired = expire_leases(session)
        queued = queued_batches(session)
        forget_silent_workers(session)
    # An expired batch's message may still sit among a dead worker's unacknowledged ones, where it
    # stays until the visibility timeout: send it again now. Other queued batches are sent only
    # when their message is gone.
    waiting = batch_ids_in_broker(app, delivered_within=settings.lease_seconds)
    resend = [batch_id for batch_id in queued if batch_id in expired or batch_id not in waiting]
    if resend:
        send_batches(app, resend)
    if expired or resend:
        log.info("sweep: %d expired leases, %d batches re-sent", len(expired), len(resend))
    return SweepResult(expired, resend)


def sweep_every(
    settings: Settings,
    app: Celery,
    report: Callable[[SweepResult], None],
    recover: Callable[[Exception], bool],
    stop: threading.Event | None = None,
) -> None:
    """Sweep now and every `sweep_interval_seconds` after, until `stop` is set. Each round's
    result goes to `report`; a round that fails goes to `recover`, which says whether to try
    again next round (an outage, told to the operator) or to stop with the error (a bug)."""
    stop = stop or threading.Event()
    while True:
        try:
            result = sweep(settings, app)
        except Exception as error:
            if not recover(error):
                raise
        else:
            report(result)
        if stop.wait(settings.sweep_interval_seconds):
            return
