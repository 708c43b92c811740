"""The Celery application: Redis broker, JSON messages, queue `gpu`, at-least-once delivery.

Messages carry batch ids only; PostgreSQL is the source of truth. Both sides share this
configuration: the producer sends by task name and never imports the worker.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable

from celery import Celery

from pronscore.settings import Settings

QUEUE = "gpu"
SCORE_BATCH = "pronscore.score_batch"
SWEEP = "pronscore.sweep"


def make_celery(settings: Settings) -> Celery:
    app = Celery("pronscore", broker=settings.redis_url)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_default_queue=QUEUE,
        task_routes={SCORE_BATCH: {"queue": QUEUE}, SWEEP: {"queue": QUEUE}},
        # A batch is acknowledged only when done; a killed worker's batch goes back to the queue.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": settings.visibility_timeout_seconds},
        broker_connection_retry_on_startup=True,
        # The model loads lazily in the child on its first batch, not at fork time.
        worker_proc_alive_timeout=120,
        worker_soft_shutdown_timeout=60,
        worker_enable_soft_shutdown_on_idle=True,
        worker_hijack_root_logger=False,
        beat_schedule={SWEEP: {"task": SWEEP, "schedule": float(settings.sweep_interval_seconds)}},
    )
    return app


def send_batches(app: Celery, batch_ids: Iterable[int]) -> None:
    with app.producer_or_acquire() as producer:
        for batch_id in batch_ids:
            app.send_task(SCORE_BATCH, args=[batch_id], queue=QUEUE, producer=producer)


def _batch_id(raw: bytes | str) -> int | None:
    try:
        message = json.loads(raw)
        if isinstance(message, list):  # unacked entries are [message, exchange, routing_key]
            message = message[0]
        if message.get("headers", {}).get("task") != SCORE_BATCH:
            return None
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        return int(args[0])
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def batch_ids_in_broker(app: Celery, delivered_within: float) -> set[int]:
    """Batch ids whose messages wait in the queue, or were delivered to a worker less than
    `delivered_within` seconds ago and are not yet acknowledged (Redis transport).

    An older unacknowledged message belongs to a worker that died before claiming its batch;
    kombu would hand it out again only after the visibility timeout, so it counts as lost.
    """
    # kombu keeps one Redis list per priority step: "gpu", then "gpu\x06\x163" and so on, and
    # delivered messages in the "unacked" hash, with delivery times in "unacked_index".
    lists = [QUEUE, *(f"{QUEUE}\x06\x16{step}" for step in (3, 6, 9))]
    with app.connection_for_read() as connection:
        client = connection.default_channel.client
        raw = [item for name in lists for item in client.lrange(name, 0, -1)]
        recent = client.zrangebyscore("unacked_index", time.time() - delivered_within, "+inf")
        if recent:
            raw += [item for item in client.hmget("unacked", recent) if item is not None]
    return {batch_id for item in raw if (batch_id := _batch_id(item)) is not None}
