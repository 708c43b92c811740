from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Assessment, Learner, PhoneDiff, Recording
from db.upserts import upsert_learner, upsert_recording
from tests.factories import add_assessment, add_recording, scored

WHEN = datetime(2026, 9, 7, 9, tzinfo=UTC)


def _count(session: Session, model: type) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_learner_upsert_is_idempotent_and_updates_class(session: Session) -> None:
    first = upsert_learner(session, "kim", "4a")
    again = upsert_learner(session, "kim", "4b")
    assert first == again
    assert _count(session, Learner) == 1
    assert session.get(Learner, first).class_id == "4b"


def _register(session: Session, sha: str, uri: str) -> tuple[int, bool]:
    return upsert_recording(
        session,
        source_id="school-1/rec-9",
        sha256=sha,
        learner_id=upsert_learner(session, "kim", "4a"),
        class_id="4a",
        storage_uri=uri,
        reference_text="WE CALL IT BEAR",
        submitted_at=WHEN,
        duration_seconds=2.5,
    )


def test_recording_same_content_is_registered_once(session: Session) -> None:
    first, new = _register(session, "aaa", "s3://b/aaa")
    again, new_again = _register(session, "aaa", "s3://b/aaa")
    assert first == again
    assert new and not new_again
    assert _count(session, Recording) == 1


def test_recording_new_content_is_a_new_version(session: Session) -> None:
    first, _ = _register(session, "aaa", "s3://b/aaa")
    second, new = _register(session, "bbb", "s3://b/bbb")
    assert new and second != first
    assert _count(session, Recording) == 2


def test_stored_copy_supersedes_local_path(session: Session) -> None:
    recording_id, _ = _register(session, "aaa", "file:///tmp/a.wav")
    _register(session, "aaa", "s3://b/aaa")
    _register(session, "aaa", "file:///elsewhere/a.wav")
    assert session.get(Recording, recording_id).storage_uri == "s3://b/aaa"


def test_assessment_replay_leaves_one_row_and_a_change_updates_it(session: Session) -> None:
    recording_id = add_recording(session, "r1", "kim", "4a", WHEN)
    words = [("BEAR", "B EH R")]
    first = add_assessment(session, recording_id, "m1", scored((7, 7, 7, 7), words, "B AE"))
    again = add_assessment(session, recording_id, "m1", scored((7, 7, 7, 7), words, "B AE"))
    assert first == again
    assert _count(session, Assessment) == 1
    assert _count(session, PhoneDiff) == 3  # B match, EH->AE, R deleted

    add_assessment(session, recording_id, "m1", scored((9, 8, 8, 9), words, "B EH R"))
    session.expire_all()
    row = session.get(Assessment, first)
    assert (row.accuracy, row.fluency, row.prosodic, row.total) == (9, 8, 8, 9)
    ops = session.execute(
        select(PhoneDiff.op).where(PhoneDiff.assessment_id == first).order_by(PhoneDiff.position)
    ).scalars()
    assert [op.value for op in ops] == ["match", "match", "match"]


def test_shorter_diff_on_replay_drops_stale_rows(session: Session) -> None:
    recording_id = add_recording(session, "r1", "kim", "4a", WHEN)
    words = [("BEAR", "B EH R")]
    add_assessment(session, recording_id, "m1", scored((7, 7, 7, 7), words, "B EH R S T"))
    assert _count(session, PhoneDiff) == 5
    add_assessment(session, recording_id, "m1", scored((7, 7, 7, 7), words, "B EH R"))
    assert _count(session, PhoneDiff) == 3


def test_assessments_of_two_model_versions_coexist(session: Session) -> None:
    recording_id = add_recording(session, "r1", "kim", "4a", WHEN)
    add_assessment(session, recording_id, "m1", scored((7, 7, 7, 7)))
    add_assessment(session, recording_id, "human:expert", scored((8, 8, 8, 8)))
    assert _count(session, Assessment) == 2
