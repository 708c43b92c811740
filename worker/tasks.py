"""Celery tasks. They stay thin: the work is in `worker.runner` and `worker.sweep`."""

from __future__ import annotations

from functools import cache

from celery.signals import worker_process_init
from sqlalchemy.exc import DBAPIError

from pronscore.queue import SCORE_BATCH, SWEEP, make_celery
from pronscore.settings import get_settings
from pronscore.storage import StorageError
from worker import metrics
from worker.runner import run_batch
from worker.runtime import Runtime
from worker.sweep import sweep

app = make_celery(get_settings())


@cache
def runtime() -> Runtime:
    """One per worker process, created in the child on its first task, never in the parent."""
    return Runtime(get_settings())


@worker_process_init.connect
def _serve_metrics(**_: object) -> None:
    metrics.serve(get_settings().metrics_port)


@app.task(
    name=SCORE_BATCH,
    autoretry_for=(DBAPIError, StorageError),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=8,
)
def score_batch(batch_id: int) -> dict[str, object]:
    return run_batch(batch_id, runtime()).as_dict()


@app.task(name=SWEEP)
def sweep_task() -> dict[str, list[int]]:
    result = sweep(get_settings(), app)
    return {"expired": result.expired, "resent": result.resent}
