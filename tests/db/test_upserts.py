from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Assessment, PhoneDiff
from tests.factories import add_assessment, add_recording, scored

WHEN = datetime(2026, 9, 7, 9, tzinfo=UTC)


def _count(session: Session, model: type) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


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
