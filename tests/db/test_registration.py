"""Registering learners and recordings: the one write path of enqueueing and ratings imports."""

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Learner, Recording, RecordingStatus
from db.registration import ChunkRegistration, NewRecording, register_chunk
from db.runs import get_or_create_run
from scoring.failures import FailureReason, RecordingFailure

WHEN = datetime(2026, 9, 7, 9, tzinfo=UTC)


def _count(session: Session, model: type) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def _row(sha: str, uri: str, **changes: object) -> NewRecording:
    values: dict = {
        "source_id": "school-1/rec-9",
        "learner": "kim",
        "class_id": "4a",
        "sha256": sha,
        "storage_uri": uri,
        "reference_text": "WE CALL IT BEAR",
        "submitted_at": WHEN,
        "duration_seconds": 2.5,
    }
    return NewRecording(**(values | changes))


def _register(session: Session, row: NewRecording, run: str | None = "night") -> ChunkRegistration:
    return register_chunk(session, [row], lambda: None if run is None else get_or_create_run(session, run))


def test_a_learner_is_registered_once_and_takes_the_class_named_last(session: Session) -> None:
    _register(session, _row("aaa", "s3://b/aaa"))
    _register(session, _row("bbb", "s3://b/bbb", class_id="4b"))
    assert _count(session, Learner) == 1
    assert session.execute(select(Learner.class_id)).scalar_one() == "4b"


def test_the_same_content_is_one_recording_and_new_content_a_new_version(session: Session) -> None:
    first = _register(session, _row("aaa", "s3://b/aaa"))
    again = _register(session, _row("aaa", "s3://b/aaa"))
    changed = _register(session, _row("bbb", "s3://b/bbb"))
    assert (first.inserted, len(first.waiting)) == (1, 1)
    assert (again.inserted, again.already_known) == (0, 1)
    assert (changed.inserted, changed.new_versions) == (1, 1)
    assert _count(session, Recording) == 2


def test_a_local_file_waits_outside_any_run_until_its_stored_copy_replaces_it(session: Session) -> None:
    local = _register(session, _row("aaa", "file:///tmp/a.wav", duration_seconds=None), run=None)
    assert (local.inserted, local.waiting) == (1, {}), "a local file is not for the workers"
    recording = session.execute(select(Recording)).scalar_one()
    assert (recording.run_id, recording.status) == (None, RecordingStatus.queued)

    stored = _register(session, _row("aaa", "s3://b/aaa"))
    assert stored.waiting == {recording.id: 2.5}, "queued once its copy is in the store"
    _register(session, _row("aaa", "file:///elsewhere/a.wav"))
    session.refresh(recording)
    assert (recording.storage_uri, recording.duration_seconds) == ("s3://b/aaa", 2.5)
    assert recording.run_id is not None


def test_a_failure_at_intake_is_stored_in_its_columns(session: Session) -> None:
    failure = RecordingFailure(FailureReason.audio_silent, "the recording is silent (peak below -60 dBFS)")
    outcome = _register(session, _row("aaa", "/uploads/a.wav", duration_seconds=None, failure=failure))
    assert (outcome.inserted, outcome.waiting) == (0, {})
    row = session.execute(select(Recording.status, Recording.failure_reason, Recording.failure_detail)).one()
    assert tuple(row) == (RecordingStatus.failed, "audio_silent", failure.detail)
