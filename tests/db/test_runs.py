"""Run bookkeeping without a worker: finished when its last batch is done, named after the
model version that scored it first; and where it stands."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from db.batches import claim_batch, complete_batch, create_batches, start_recordings
from db.models import Run
from db.runs import UnknownRun, get_or_create_run, record_batch_done, run_status
from db.upserts import upsert_model_version
from tests.factories import add_recording, scored

WHEN = datetime(2026, 9, 7, 9, tzinfo=UTC)


def test_a_run_is_named_once(session: Session) -> None:
    assert get_or_create_run(session, "night") == get_or_create_run(session, "night")
    assert get_or_create_run(session, "other") != get_or_create_run(session, "night")


def test_finished_only_after_the_last_batch_and_the_first_model_version_stays(session: Session) -> None:
    run_id = get_or_create_run(session, "night")
    ids = [add_recording(session, f"r{i}", "kim", "4a", WHEN, duration=3.0) for i in range(2)]
    first, second = create_batches(session, run_id, dict.fromkeys(ids, 3.0), budget_seconds=3.0)
    old, new = upsert_model_version(session, "old/joint-v1"), upsert_model_version(session, "new/joint-v1")
    for batch_id, version in ((first, old), (second, new)):
        claim_batch(session, batch_id, "host:1", lease_seconds=60)
        (recording,) = start_recordings(session, batch_id)
        complete_batch(session, batch_id, "host:1", version, {recording.id: scored((7, 8, 7, 7))})
        run = session.get(Run, run_id)
        session.refresh(run)
        assert (run.finished_at is not None) == (batch_id == second)
    assert session.get(Run, run_id).model_version_id == old


def test_record_batch_done_leaves_an_unfinished_run_open(session: Session) -> None:
    run_id = get_or_create_run(session, "night")
    (rid,) = [add_recording(session, "r1", "kim", "4a", WHEN)]
    create_batches(session, run_id, {rid: 3.0}, budget_seconds=10)
    record_batch_done(session, run_id, upsert_model_version(session, "m/joint-v1"))
    assert session.get(Run, run_id).finished_at is None


def test_status_counts_audio_and_the_rate_of_finished_recordings(session: Session) -> None:
    run_id = get_or_create_run(session, "night")
    ids = [add_recording(session, f"r{i}", "kim", "4a", WHEN, duration=4.0) for i in range(3)]
    first, _second = create_batches(session, run_id, dict.fromkeys(ids, 4.0), budget_seconds=8.0)
    claim_batch(session, first, "host:1", lease_seconds=60)
    done = start_recordings(session, first)
    version = upsert_model_version(session, "m/joint-v1")
    complete_batch(
        session, first, "host:1", version, {done[0].id: scored((7, 8, 7, 7)), done[1].id: scored((1, 1, 1, 1))}
    )
    session.execute(
        text("UPDATE batches SET started_at = finished_at - interval '4 seconds' WHERE id = :id"), {"id": first}
    )
    status = run_status(session, "night")
    assert status.counts == {"queued": 1, "scoring": 0, "scored": 2, "failed": 0}
    assert (status.audio_seconds_done, status.audio_seconds_left) == (8.0, 4.0)
    assert status.recordings_per_second == pytest.approx(0.5)
    assert status.seconds_left == pytest.approx(2.0)


def test_unknown_runs_are_named(session: Session) -> None:
    with pytest.raises(UnknownRun, match="no runs yet"):
        run_status(session)
    with pytest.raises(UnknownRun, match="'nope'"):
        run_status(session, "nope")
