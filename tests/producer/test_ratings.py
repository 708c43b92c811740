import json
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Assessment, Learner, ModelVersion, PhoneDiff, Recording
from producer.ratings import import_ratings
from producer.sample import sample_submissions, write_ratings
from tests.conftest import SAMPLE_DIR


def _ratings_file(tmp_path: Path, count: int) -> tuple[Path, list[str]]:
    path = tmp_path / "ratings.jsonl"
    write_ratings(sample_submissions(SAMPLE_DIR)[:count], path)
    return path, path.read_text().splitlines()


def test_import_registers_recordings_learners_and_annotated_diffs(session: Session, tmp_path: Path) -> None:
    path, lines = _ratings_file(tmp_path, 6)
    outcome = import_ratings(session, path, "expert")
    assert (outcome.imported, outcome.registered, outcome.errors) == (6, 6, [])
    assert session.execute(select(ModelVersion.name, ModelVersion.is_human)).all() == [("human:expert", True)]
    first = json.loads(lines[0])
    row = session.execute(
        select(Assessment).join(Recording).where(Recording.source_id == first["recording_id"])
    ).scalar_one()
    assert (row.accuracy, row.fluency, row.prosodic, row.total) == tuple(
        first[k] for k in ("accuracy", "fluency", "prosodic", "total")
    )
    learner = session.execute(select(Learner).where(Learner.external_id == first["learner_id"])).scalar_one()
    assert learner.class_id == first["class_id"]
    # Every annotated deletion in the imported lines is a deletion row.
    deletions = sum(
        m["pronounced-phone"] == "<DEL>"
        for line in lines
        for w in json.loads(line)["words"]
        for m in w.get("mispronunciations", [])
    )
    stored = session.execute(select(func.count()).select_from(PhoneDiff).where(PhoneDiff.op == "deletion"))
    assert stored.scalar_one() == deletions


def test_reimport_is_idempotent(session: Session, tmp_path: Path) -> None:
    path, _ = _ratings_file(tmp_path, 4)
    import_ratings(session, path, "expert")
    again = import_ratings(session, path, "expert")
    assert (again.imported, again.registered) == (4, 0)
    assert session.execute(select(func.count()).select_from(Assessment)).scalar_one() == 4


def test_malformed_lines_are_named_and_the_rest_imported(session: Session, tmp_path: Path) -> None:
    path, lines = _ratings_file(tmp_path, 3)
    broken = json.loads(lines[1])
    broken["accuracy"] = 14
    missing_words = json.loads(lines[2])
    del missing_words["words"]
    path.write_text("\n".join([lines[0], json.dumps(broken), "{not json", json.dumps(missing_words)]) + "\n")

    outcome = import_ratings(session, path, "teacher")

    assert outcome.imported == 1
    assert [(e.line, e.reason) for e in outcome.errors[:1]] == [(2, "accuracy score 14 is outside 0-10")]
    assert [e.line for e in outcome.errors] == [2, 3, 4]
    assert "missing field 'words'" in outcome.errors[2].reason
    assert session.execute(select(func.count()).select_from(Recording)).scalar_one() == 1


def test_a_rating_dated_outside_the_accepted_range_is_named_and_skipped(session: Session, tmp_path: Path) -> None:
    path, lines = _ratings_file(tmp_path, 2)
    ancient = {**json.loads(lines[1]), "submitted_at": "0001-01-01T00:00:00Z"}
    path.write_text("\n".join([lines[0], json.dumps(ancient)]) + "\n")
    outcome = import_ratings(session, path, "expert")
    assert outcome.imported == 1
    assert [(e.line, e.reason) for e in outcome.errors] == [
        (2, "submitted_at '0001-01-01T00:00:00Z' is before 2000-01-01 (PRONSCORE_EARLIEST_SUBMITTED_AT)")
    ]
