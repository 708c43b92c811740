"""Celery tasks. They stay thin: the work is in `worker.runner` and `worker.sweep`."""

from __future__ import annotations

from functools import cache

from celery import Task
from celery.signals import worker_process_init

from db.session import get_engine
from pronscore.queue import SCORE_BATCH, SWEEP, make_celery
from pronscore.settings import get_settings
from worker.retry import backoff_seconds, is_outage, max_retries
from worker.runner import ClaimDeferred, run_batch
from worker.runtime import Runtime
from worker.sweep import sweep

app = make_celery(get_settings())


@cache
def runtime() -> Runtime:
    """One per worker process, created in the child as it starts, never in the parent."""
    return Runtime.from_settings(get_settings())


@worker_process_init.connect
def _start(**_: object) -> None:
    """Each worker process beats from its start, so that a batch it takes over is judged
    against a liveness it has kept from the beginning.

    First it lets go of the database connections the parent's pool held when it forked (they
    are the parent's; SQLAlchemy's recipe for forked processes), which also loads the database
    driver in this thread before the liveness thread needs it: two threads importing it at once
    can see it half-initialised."""
    get_engine(get_settings().database_url).dispose(close=False)
    runtime().liveness.start()


@app.task(name=SCORE_BATCH, bind=True, max_retries=None)
def score_batch(self: Task, batch_id: int) -> dict[str, object]:
    """Score a batch; through a store, database or broker outage (the batch already given back
    at no cost, or owed) try again with exponential backoff until the retry horizon, after which
    the batch waits, queued, for the sweep. A claim put off (its last holder may be alive) is
    tried again after one liveness beat."""
    try:
        return run_batch(batch_id, runtime()).as_dict()
    except ClaimDeferred as deferred:
        raise self.retry(countdown=deferred.seconds) from None
    except Exception as error:
        settings = get_settings()
        if not is_outage(error) or self.request.retries >= max_retries(settings):
            raise
        raise self.retry(exc=error, countdown=backoff_seconds(self.request.retries, settings)) from None


@app.task(name=SWEEP)
def sweep_task() -> dict[str, list[int]]:
    result = sweep(get_settings(), app)
    return {"expired": result.expired, "resent": result.resent}
