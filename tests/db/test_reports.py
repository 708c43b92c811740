"""Each report on hand-built rows returns the numbers computed by hand in the comments."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources

import pytest
from sqlalchemy import text, update
from sqlalchemy.orm import Session

from db.models import Batch, BatchStatus, Recording, RecordingStatus, Run, WordScore
from db.reports import REPORTS, ReportError, ReportFilters, ReportSpec, newest_model, read_sql, run_report
from db.session import session_scope
from db.upserts import upsert_model_version
from tests.factories import add_assessment, add_recording, scored, unparseable


def at(day: int, month: int = 9, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def progress_rows(session: Session) -> Session:
    # Learner A, class c1: week of Mon 7 Sep: totals 6 and 7 (mean 6.5); no recording in the
    # week of 14 Sep; week of 21 Sep: one recording, plus one the model could not read.
    add_assessment(session, add_recording(session, "a1", "A", "c1", at(7)), "m1", scored((6, 7, 6, 6)))
    add_assessment(session, add_recording(session, "a2", "A", "c1", at(9)), "m1", scored((8, 7, 8, 7)))
    add_assessment(session, add_recording(session, "a3", "A", "c1", at(22)), "m1", scored((9, 8, 7, 8)))
    add_assessment(session, add_recording(session, "a4", "A", "c1", at(23)), "m1", unparseable())
    # Learner B, class c1: a single recording on Wed 16 Sep.
    add_assessment(session, add_recording(session, "b1", "B", "c1", at(16)), "m1", scored((5, 5, 5, 5)))
    # Learner C, class c2, rated by a human only.
    add_assessment(session, add_recording(session, "c1", "C", "c2", at(8)), "human:t", scored((4, 4, 4, 4)))
    return session


def _progress(session: Session, **filters) -> list[tuple]:
    result = run_report(session, "learner-progress", ReportFilters(**filters))
    return [
        (
            r["learner_id"],
            r["iso_week"],
            r["recordings"],
            r["accuracy"],
            r["fluency"],
            r["prosodic"],
            r["total"],
            r["accuracy_change"],
            r["total_change"],
        )
        for r in result.rows
    ]


D = Decimal


def test_learner_progress_by_week_with_gap_and_single_recording(progress_rows: Session) -> None:
    assert _progress(progress_rows, class_id="c1") == [
        ("A", "2026-W37", 2, D("7.00"), D("7.00"), D("7.00"), D("6.50"), D("0.00"), D("0.00")),
        ("A", "2026-W38", 0, None, None, None, None, None, None),
        ("A", "2026-W39", 1, D("9.00"), D("8.00"), D("7.00"), D("8.00"), D("2.00"), D("1.50")),
        ("B", "2026-W38", 1, D("5.00"), D("5.00"), D("5.00"), D("5.00"), D("0.00"), D("0.00")),
    ]


def test_learner_progress_filters(progress_rows: Session) -> None:
    assert [r[:3] for r in _progress(progress_rows, learner_id="A", since=date(2026, 9, 15))] == [
        ("A", "2026-W38", 0),
        ("A", "2026-W39", 1),
    ]
    assert [r[:3] for r in _progress(progress_rows, model="human:t")] == [("C", "2026-W37", 1)]
    assert _progress(progress_rows, class_id="nope") == []


@pytest.fixture
def confusion_rows(session: Session) -> Session:
    when = at(7)
    rows = [
        ("r1", "c1", [("BEAR", "B EH R")], "B AE"),  # EH->AE, R deleted
        ("r2", "c1", [("BED", "B EH D")], "B AE D"),  # EH->AE
        ("r3", "c1", [("RED", "R EH D")], "R EH"),  # D deleted
        ("r4", "c1", [("TEN", "T EH N")], "T EH N"),  # all correct
        ("r5", "c2", [("TEN", "T EH N")], "D EH N"),  # T->D
    ]
    for source, class_id, words, heard in rows:
        recording = add_recording(session, source, f"learner-{source}", class_id, when)
        add_assessment(session, recording, "m1", scored((7, 7, 7, 7), words, heard))
    add_assessment(session, add_recording(session, "r6", "x", "c1", when), "m1", unparseable())
    return session


def test_class_weak_phones_counts_rates_and_ties(confusion_rows: Session) -> None:
    result = run_report(confusion_rows, "class-weak-phones", ReportFilters())
    got = [
        (
            r["rank"],
            r["class_id"],
            r["expected"],
            r["actual"],
            r["op"],
            r["occurrences"],
            r["expected_count"],
            r["rate"],
        )
        for r in result.rows
    ]
    # c1: EH occurs 4 times, 2 of them as AE; R occurs twice (r1, r3) and D twice (r2, r3),
    # each deleted once: a tie at rank 2, ordered by phone.
    assert got == [
        (1, "c1", "EH", "AE", "substitution", 2, 4, D("0.5000")),
        (2, "c1", "D", None, "deletion", 1, 2, D("0.5000")),
        (2, "c1", "R", None, "deletion", 1, 2, D("0.5000")),
        (1, "c2", "T", "D", "substitution", 1, 1, D("1.0000")),
    ]


def test_class_weak_phones_top_and_class_filter(confusion_rows: Session) -> None:
    top_one = run_report(confusion_rows, "class-weak-phones", ReportFilters(class_id="c1", top=1))
    assert [(r["expected"], r["actual"]) for r in top_one.rows] == [("EH", "AE")]
    later = run_report(confusion_rows, "class-weak-phones", ReportFilters(since=date(2026, 9, 14)))
    assert later.rows == []


def test_run_summary_counts_failures_hours_and_rate(session: Session) -> None:
    model_id = upsert_model_version(session, "m1")
    night = Run(name="night-1", model_version_id=model_id)
    empty = Run(name="night-2", model_version_id=model_id)
    session.add_all([night, empty])
    session.flush()
    session.add(
        Batch(
            run_id=night.id,
            status=BatchStatus.done,
            started_at=at(1, 10, 10),
            finished_at=at(1, 10, 10).replace(second=10),
        )
    )
    add_recording(session, "x1", "A", "c1", at(1), run_id=night.id, duration=1800, status=RecordingStatus.scored)
    for source, reason in (("x2", "audio_unreadable"), ("x3", "object_missing")):
        add_recording(
            session,
            source,
            "A",
            "c1",
            at(1),
            run_id=night.id,
            duration=2700,
            status=RecordingStatus.failed,
            failure_reason=reason,
        )
    rows = {r["run"]: r for r in run_report(session, "run-summary", ReportFilters()).rows}
    first = rows["night-1"]
    # 1800 + 2700 + 2700 s = 2 hours; 3 recordings finished (1 scored, 2 failed) in the 10 s between
    # first start and last finish: the same rate `pronscore status` shows.
    assert (first["recordings"], first["scored"], first["failed"], first["queued"]) == (3, 1, 2, 0)
    assert first["failures"] == {"audio_unreadable": 1, "object_missing": 1}
    assert first["audio_hours"] == D("2.0000")
    assert first["recordings_per_second"] == D("0.300")
    assert first["model"] == "m1"
    second = rows["night-2"]
    assert (second["recordings"], second["failures"], second["recordings_per_second"]) == (0, {}, None)


def test_unknown_report_and_unsupported_filter_are_named(session: Session) -> None:
    with pytest.raises(ReportError, match=r"unknown report 'weekly'.*learner-progress"):
        run_report(session, "weekly", ReportFilters())
    with pytest.raises(ReportError, match="run-summary does not take --class, --learner"):
        run_report(session, "run-summary", ReportFilters(class_id="c1", learner_id="A"))


def test_reports_count_only_the_latest_audio_version_of_a_recording(session: Session) -> None:
    old = add_recording(session, "a1", "A", "c1", at(7))
    old_assessment = add_assessment(session, old, "m1", scored((2, 2, 2, 2), [("BEAR", "B EH R")], "B AE R"))
    newer = add_recording(session, "a1", "A", "c1", at(8), take="retake", reference_text="BEAR")
    new_assessment = add_assessment(session, newer, "m1", scored((8, 8, 8, 8), [("BEAR", "B EH R")], "B EH R"))
    session.add_all(
        [
            WordScore(
                assessment_id=old_assessment, word_index=0, word="BEAR", accuracy=2.0, error_type="Mispronunciation"
            ),
            WordScore(assessment_id=new_assessment, word_index=0, word="BEAR", accuracy=8.0, error_type="None"),
        ]
    )
    session.flush()
    assert _progress(session) == [
        ("A", "2026-W37", 1, D("8.00"), D("8.00"), D("8.00"), D("8.00"), D("0.00"), D("0.00"))
    ]
    weak = run_report(session, "class-weak-phones", ReportFilters())
    assert weak.rows == [], "the retake has no substitution; the old take no longer counts"
    words = run_report(session, "learner-words", ReportFilters())
    assert [(r["word"], r["readings"], r["accuracy"], r["mispronounced"]) for r in words.rows] == [
        ("BEAR", 1, D("8.0"), 0)
    ]


# The report catalog: every view has a spec, every spec a view, a SQL file and its columns.

ALL_VIEWS = "SELECT viewname FROM pg_views WHERE schemaname = 'public' AND viewname LIKE 'report\\_%'"


def _reporter_url(url: str) -> str:
    return url.replace("//postgres@", "//pronscore_report@")


def test_every_report_view_has_a_spec_and_every_spec_reads_a_view(session: Session) -> None:
    views = set(session.execute(text(ALL_VIEWS)).scalars())
    declared = {view for spec in REPORTS.values() for view in spec.views}
    assert views - declared == set(), "report views no spec declares (add a spec in db/reports/catalog.py)"
    assert declared - views == set(), "specs naming views no migration creates"


def test_every_sql_file_belongs_to_one_spec_and_reads_only_declared_views(session: Session) -> None:
    views = set(session.execute(text(ALL_VIEWS)).scalars())
    files = {path.name for path in resources.files("db.reports").iterdir() if path.name.endswith(".sql")}
    assert sorted(files) == sorted(spec.sql_file for spec in REPORTS.values())
    for spec in REPORTS.values():
        read = set(re.findall(r"\breport_\w+", read_sql(spec.sql_file))) & views
        assert read <= set(spec.views), f"{spec.name} reads {read - set(spec.views)} without declaring them"


@pytest.mark.parametrize("name", list(REPORTS))
def test_each_report_runs_as_the_read_only_role_with_the_columns_its_spec_names(
    clean_db: str, name: str, progress_rows: Session
) -> None:
    spec = REPORTS[name]
    progress_rows.commit()
    with session_scope(_reporter_url(clean_db)) as reporter:
        result = run_report(reporter, name, ReportFilters())
    named = {c.key for c in spec.table} | set(spec.identity) | set(spec.labels) | set(spec.compared)
    named |= set(spec.compared_table) | set(spec.order)
    assert named <= set(result.columns), f"{name}'s spec names columns its SQL does not return"


def test_a_spec_with_an_unknown_filter_or_half_a_comparison_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown filters"):
        ReportSpec("x", "x", "x.sql", ("report_x",), frozenset({"colour"}), ())
    with pytest.raises(ValueError, match="identity and compared"):
        ReportSpec("x", "x", "x.sql", ("report_x",), frozenset(), (), identity=("a",))


def test_recordings_report_newest_version_failures_and_audio_only_from_the_store(session: Session) -> None:
    add_recording(session, "r1", "A", "c1", at(7), duration=2.5)
    add_recording(session, "r1", "A", "c1", at(8), take="retake", duration=3.5)
    add_recording(session, "r2", "A", "c1", at(9), status=RecordingStatus.failed, failure_reason="audio_silent")
    rated = add_recording(session, "r3", "B", "c1", at(10))
    session.execute(update(Recording).where(Recording.id == rated).values(storage_uri="file:///ratings/r3.wav"))
    rows = {r["recording_id"]: r for r in run_report(session, "recordings", ReportFilters(class_id="c1")).rows}
    assert sorted(rows) == ["r1", "r2", "r3"]
    assert (rows["r1"]["duration_seconds"], rows["r1"]["audio_uri"]) == (3.5, "s3://bucket/r1-retake")
    assert (rows["r2"]["status"], rows["r2"]["reason"]) == ("failed", "audio_silent")
    assert rows["r3"]["audio_uri"] is None, "a recording known only from ratings has no audio in the store"
    assert [r["recording_id"] for r in run_report(session, "recordings", ReportFilters(learner_id="B")).rows] == ["r3"]


def test_models_report_prefers_the_newest_machine_model_and_marks_engines(session: Session) -> None:
    upsert_model_version(session, "human:expert", is_human=True)
    add_assessment(session, add_recording(session, "a1", "A", "c1", at(7)), "human:expert", scored((5, 5, 5, 5)))
    upsert_model_version(session, "gop-x", decoding={"engine": "gop"})
    add_assessment(session, add_recording(session, "a2", "A", "c1", at(7)), "gop-x", scored((5, 5, 5, 5)))
    upsert_model_version(session, "unused")
    rows = run_report(session, "models", ReportFilters()).rows
    assert [(r["model"], r["engine"], r["assessments"]) for r in rows] == [
        ("unused", "phi4mm", 0),
        ("gop-x", "gop", 1),
        ("human:expert", "human", 1),
    ]
    assert newest_model(session) == "gop-x", "the newest machine model with assessments"


def test_class_weak_words_ranks_words_by_mistakes(session: Session) -> None:
    # Class c1: BEAR read 3 times by 2 learners, wrong twice (accuracy 2, 4, 9: mean 5.0);
    # RED read twice, omitted once; TEN always right (left out).
    readings = [("A", "BEAR", 2.0, "Mispronunciation"), ("B", "BEAR", 4.0, "Mispronunciation"),
                ("A", "BEAR", 9.0, "None"), ("A", "RED", 0.0, "Omission"), ("B", "RED", 8.0, "None"),
                ("B", "TEN", 9.0, "None")]  # fmt: skip
    for i, (learner, word, accuracy, error) in enumerate(readings):
        assessment = add_assessment(
            session, add_recording(session, f"w{i}", learner, "c1", at(7)), "m1", scored((5,) * 4)
        )
        session.add(WordScore(assessment_id=assessment, word_index=0, word=word, accuracy=accuracy, error_type=error))
    session.flush()
    rows = run_report(session, "class-weak-words", ReportFilters(class_id="c1")).rows
    assert [(r["rank"], r["word"], r["learners"], r["readings"], r["mistakes"], r["accuracy"]) for r in rows] == [
        (1, "BEAR", 2, 3, 2, D("5.0")),
        (2, "RED", 2, 2, 1, D("4.0")),
    ]


def test_word_scores_report_each_scored_word_of_a_recording(session: Session) -> None:
    recording = add_recording(session, "f1", "A", "c1", at(7))
    assessment = add_assessment(
        session, recording, "m1", scored((6, 6, 6, 6), [("WE", "W IY"), ("BEAR", "B EH R")], "W IY B AE R")
    )
    session.add(
        WordScore(assessment_id=assessment, word_index=1, word="BEAR", accuracy=3.25, error_type="Mispronunciation")
    )
    session.flush()
    feedback = run_report(session, "recording-feedback", ReportFilters(recording_id="f1")).rows
    assert [(r["word_index"], r["word"], r["errors"]) for r in feedback] == [(0, "WE", 0), (1, "BEAR", 1)]
    scores = run_report(session, "word-scores", ReportFilters(recording_id="f1")).rows
    assert [(r["word_index"], r["word"], r["accuracy"], r["error_type"]) for r in scores] == [
        (1, "BEAR", D("3.3"), "Mispronunciation")
    ]
