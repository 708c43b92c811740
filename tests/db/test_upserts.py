from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Assessment, PhoneDiff
from db.models import PhoneScore as PhoneScoreRow
from db.models import WordScore as WordScoreRow
from db.upserts import upsert_assessments, upsert_model_version
from scoring.assessment import AssessmentResult
from scoring.pronunciation import PhoneScore, WordErrorType, WordScore
from tests.factories import add_assessment, add_recording, scored, unparseable

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


def _with_word_and_phone_scores(assessment: AssessmentResult, words: int, phones: int) -> AssessmentResult:
    """`assessment` with `words` word scores (every other index, as unaligned words are skipped)
    and `phones` phone scores, as the GOP engine gives."""
    word_scores = tuple(WordScore(2 * i, f"W{i}", 7.0 + i, WordErrorType.none) for i in range(words))
    phone_scores = tuple(PhoneScore(0, "B", 1.5, 0.1 * i, 0.1, -0.5) for i in range(phones))
    return replace(assessment, word_scores=word_scores, phone_scores=phone_scores)


def test_word_and_phone_scores_are_replaced_whole_and_unparseable_answers_keep_their_failure(
    session: Session,
) -> None:
    first = add_recording(session, "r1", "kim", "4a", WHEN)
    second = add_recording(session, "r2", "kim", "4a", WHEN)
    version = upsert_model_version(session, "gop-test")
    ids = upsert_assessments(
        session,
        version,
        [(first, _with_word_and_phone_scores(scored((7, 7, 7, 7)), 3, 5)), (second, unparseable())],
    )
    upsert_assessments(session, version, [(first, _with_word_and_phone_scores(scored((7, 7, 7, 7)), 2, 1))])
    words = session.execute(select(WordScoreRow.word_index).order_by(WordScoreRow.word_index)).scalars().all()
    phones = session.execute(select(PhoneScoreRow.position)).scalars().all()
    assert (words, phones) == ([0, 2], [0]), "stale words and phones of the longer first write are gone"
    failed = session.get(Assessment, ids[second])
    assert (failed.status.value, failed.failure_reason, failed.failure_detail, failed.flags) == (
        "unparseable",
        "unparseable_output",
        "missing accuracy",
        [],
    )
