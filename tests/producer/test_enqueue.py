"""Enqueueing against the real database, Redis and S3 server (no worker needed)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from cli.app import app
from db.models import Batch, Learner, Recording, Run
from db.session import session_scope
from producer.client import ScoringClient
from producer.ratings import import_ratings
from producer.sample import sample_submissions, write_manifest, write_ratings
from pronscore.settings import get_settings
from pronscore.storage import AudioStore, S3Uri, StorageError
from scoring.failures import FailureReason, UnknownReason
from tests.factories import sparse_wav
from tests.pipeline import short_sample


def _count(model: type) -> int:
    with session_scope(get_settings().database_url) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_enqueue_uploads_registers_batches_and_sends(no_worker: dict) -> None:
    rows = short_sample(6)
    result = ScoringClient().enqueue(rows, run="night-1")
    assert (result.registered, result.uploaded, result.sent) == (6, 6, True)
    with session_scope(get_settings().database_url) as session:
        batches = session.execute(select(Batch)).scalars().all()
        assert sum(b.audio_seconds for b in batches) == pytest.approx(
            session.execute(select(func.sum(Recording.duration_seconds))).scalar_one()
        )
        members = Counter(session.execute(select(Recording.batch_id)).scalars())
        assert len(batches) >= 2, "6 recordings are more than one 15 s batch"
        assert all(b.audio_seconds <= 15 or members[b.id] == 1 for b in batches), "over budget only when alone"
        uris = session.execute(select(Recording.storage_uri)).scalars().all()
    assert all(AudioStore(get_settings()).exists(S3Uri.parse(uri)) for uri in uris)
    assert redis.Redis.from_url(no_worker["PRONSCORE_REDIS_URL"]).llen("gpu") == len(result.batches)


def test_enqueue_twice_registers_nothing_new(no_worker: dict) -> None:
    rows = short_sample(4)
    ScoringClient().enqueue(rows, run="night-1")
    again = ScoringClient().enqueue(rows, run="night-2")
    assert (again.registered, again.already_known, again.uploaded, again.batches) == (0, 4, 0, [])
    assert _count(Recording) == 4


def test_new_content_for_a_known_id_is_a_new_version(no_worker: dict) -> None:
    first, second = short_sample(2)
    ScoringClient().enqueue([first], run="night-1")
    changed = ScoringClient().enqueue([{**second, "recording_id": first["recording_id"]}], run="night-2")
    assert changed.registered == 1
    with session_scope(get_settings().database_url) as session:
        versions = session.execute(
            select(func.count()).where(Recording.source_id == first["recording_id"])
        ).scalar_one()
    assert versions == 2


def test_existing_s3_objects_are_accepted_and_missing_ones_rejected(no_worker: dict) -> None:
    rows = short_sample(2)
    store = AudioStore(get_settings())
    store.ensure_bucket()
    data = Path(rows[0]["audio"]).read_bytes()
    bucket = get_settings().s3_bucket
    store.client.put_object(Bucket=bucket, Key="school/r1.wav", Body=data)
    result = ScoringClient().enqueue(
        [
            {**rows[0], "audio": f"s3://{bucket}/school/r1.wav"},
            {**rows[1], "audio": f"s3://{bucket}/school/missing.wav"},
        ],
        run="night-s3",
    )
    assert (result.registered, result.uploaded) == (1, 0)
    assert [(e.line, e.reason) for e in result.rejected] == [(2, f"s3://{bucket}/school/missing.wav does not exist")]


def test_cli_bad_manifest_names_lines_and_registers_only_good_rows(no_worker: dict, tmp_path: Path) -> None:
    rows = short_sample(3)
    path = tmp_path / "night.csv"
    header = "recording_id,learner_id,class_id,audio,text,submitted_at\n"
    good = rows[0]
    path.write_text(
        header
        + ",".join(good[k] for k in ("recording_id", "learner_id", "class_id", "audio", "text", "submitted_at"))
        + "\n"
        + f"dup,kim,4a,{good['audio']},HELLO,2026-09-07\n"
        + f"dup,kim,4a,{good['audio']},HELLO,2026-09-08\n"
        + f"late,kim,4a,{good['audio']},HELLO,yesterday\n"
        + "gone,kim,4a,/nowhere.wav,HELLO,2026-09-07\n"
    )
    result = CliRunner().invoke(app, ["enqueue", str(path), "--run", "night-cli"])
    assert result.exit_code == 1
    for line in ("line 3:", "line 4:", "line 5: submitted_at 'yesterday'", "line 6: audio file not found"):
        assert line in result.stderr
    assert result.stdout.strip() == "night-cli", "the run's name, which `pronscore status` takes"
    assert _count(Recording) == 1 and _count(Learner) == 1


def test_cli_missing_columns_register_nothing(no_worker: dict, tmp_path: Path) -> None:
    path = tmp_path / "night.csv"
    path.write_text("recording_id,audio\nr1,a.wav\n")
    result = CliRunner().invoke(app, ["enqueue", str(path)])
    assert result.exit_code == 2
    assert "lacks the column(s) learner_id, text, submitted_at; nothing was registered" in result.stderr
    assert _count(Run) == 0


def test_wrong_s3_credentials_fail_clearly_and_register_nothing(
    no_worker: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRONSCORE_S3_SECRET_ACCESS_KEY", "not-the-secret")
    get_settings.cache_clear()
    with pytest.raises(StorageError, match="refused the credentials"):
        ScoringClient().enqueue(short_sample(2), run="night-creds")
    from producer.sample import sample_submissions
    from tests.conftest import SAMPLE_DIR

    manifest = tmp_path / "night.csv"
    write_manifest(sample_submissions(SAMPLE_DIR)[:2], manifest)
    result = CliRunner().invoke(app, ["enqueue", str(manifest)])
    assert result.exit_code == 2
    assert "PRONSCORE_S3_SECRET_ACCESS_KEY" in result.stderr
    assert "not-the-secret" not in result.output
    assert _count(Recording) == 0 and _count(Run) == 0


def test_status_shows_counts_and_unknown_runs_are_named(no_worker: dict) -> None:
    ScoringClient().enqueue(short_sample(3), run="night-status")
    shown = CliRunner().invoke(app, ["status", "night-status"])
    assert shown.exit_code == 0 and "3 recordings" in shown.stdout and "queued" in shown.stdout
    unknown = CliRunner().invoke(app, ["status", "nope"])
    assert unknown.exit_code == 2 and "no run named 'nope'" in unknown.stderr


def test_local_audio_is_stored_at_the_model_rate(no_worker: dict, tmp_path: Path) -> None:
    import io

    import numpy as np
    import soundfile

    row = short_sample(1)[0]
    samples, rate = soundfile.read(row["audio"], dtype="float32")
    stretched = np.interp(np.arange(0, len(samples), rate / 48_000), np.arange(len(samples)), samples)
    stereo = tmp_path / "phone.wav"
    soundfile.write(stereo, np.stack([stretched, stretched], axis=1), 48_000)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"not audio at all" * 10)

    result = ScoringClient().enqueue(
        [{**row, "audio": str(stereo)}, {**row, "recording_id": "x", "audio": str(corrupt)}]
    )
    store = AudioStore(get_settings())
    with session_scope(get_settings().database_url) as session:
        stored = dict(session.execute(select(Recording.source_id, Recording.storage_uri)).all())
    kept = soundfile.info(io.BytesIO(store.get(S3Uri.parse(stored[row["recording_id"]]))))
    assert (kept.samplerate, kept.channels, kept.subtype) == (16_000, 1, "PCM_16")
    assert kept.duration == pytest.approx(len(samples) / rate, abs=0.01)
    assert result.uploaded == 1 and stored["x"] == str(corrupt), "what does not decode is never uploaded"


def _objects(bucket: str) -> list[bytes]:
    store = AudioStore(get_settings())
    keys = [o["Key"] for o in store.client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return [store.get(S3Uri(bucket, key)) for key in keys]


def test_files_that_are_not_audio_are_never_uploaded(no_worker: dict, tmp_path: Path) -> None:
    import io

    import soundfile

    good = short_sample(1)[0]
    manifest = tmp_path / "a" / "b" / "c" / "night.jsonl"
    manifest.parent.mkdir(parents=True)
    depth = len(manifest.parent.parts) - 1
    rows = [
        good,
        {**good, "recording_id": "environ", "audio": "/proc/self/environ"},
        {**good, "recording_id": "passwd", "audio": "/etc/passwd"},
        {**good, "recording_id": "dots", "audio": "../" * depth + "etc/passwd"},
    ]
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = CliRunner().invoke(app, ["enqueue", str(manifest), "--run", "night-secrets"])
    assert result.exit_code == 1, result.output
    for line in (2, 3, 4):
        assert f"failed at intake night.jsonl line {line}: audio_unreadable" in result.stderr
    stored = _objects(get_settings().s3_bucket)
    assert len(stored) == 1
    assert soundfile.info(io.BytesIO(stored[0])).samplerate == 16_000
    assert not any(b"PRONSCORE_" in data or b"root:" in data for data in stored)
    with session_scope(get_settings().database_url) as session:
        failed = dict(session.execute(select(Recording.source_id, Recording.failure_reason)).all())
    assert failed == {
        good["recording_id"]: None,
        "environ": "audio_unreadable",
        "passwd": "audio_unreadable",
        "dots": "audio_unreadable",
    }


def test_an_s3_uri_to_a_missing_bucket_is_a_rejected_row(no_worker: dict) -> None:
    first, second = short_sample(2)
    result = ScoringClient().enqueue([first, {**second, "audio": "s3://no-such-bucket-here/r2.wav"}], run="night-nb")
    assert result.registered == 1
    assert [(e.line, e.reason) for e in result.rejected] == [
        (2, "s3://no-such-bucket-here/r2.wav does not exist: there is no bucket no-such-bucket-here")
    ]


def test_a_manifest_whose_rows_are_all_rejected_makes_no_run_and_exits_2(no_worker: dict, tmp_path: Path) -> None:
    path = tmp_path / "night.csv"
    path.write_text(
        "recording_id,learner_id,class_id,audio,text,submitted_at\n"
        "r1,kim,4a,/nowhere.wav,HELLO,2026-09-07\nr2,kim,4a,/nowhere.wav,HELLO,0001-01-01\n"
    )
    result = CliRunner().invoke(app, ["enqueue", str(path), "--run", "night-empty"])
    assert result.exit_code == 2
    assert "no row could be enqueued; no run was created" in result.stderr
    assert result.stdout == "" and _count(Run) == 0


def test_enqueue_streams_in_chunks_and_a_rerun_finishes_without_duplicates(
    no_worker: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRONSCORE_ENQUEUE_CHUNK_ROWS", "2")
    get_settings.cache_clear()
    rows = short_sample(5)
    first = ScoringClient().enqueue(rows[:3], run="night-chunks")
    assert (first.registered, first.run_id is not None) == (3, True)
    again = ScoringClient().enqueue(rows, run="night-chunks")
    assert (again.registered, again.already_known, again.run_id) == (2, 3, first.run_id)
    with session_scope(get_settings().database_url) as session:
        assert set(session.execute(select(Recording.run_id)).scalars()) == {first.run_id}
        assert session.execute(select(func.count()).where(Recording.batch_id.is_(None))).scalar_one() == 0
    assert _count(Recording) == 5
    nothing_new = ScoringClient().enqueue(rows, run="night-chunks-3")
    assert (nothing_new.already_known, nothing_new.run_id) == (5, None)
    assert _count(Run) == 1, "all known: no empty run"


def test_corrections_update_the_recording_and_a_new_text_queues_it_again(no_worker: dict) -> None:
    row, other = short_sample(2)
    ScoringClient().enqueue([row, other], run="night-1")
    with session_scope(get_settings().database_url) as session:
        session.execute(text("UPDATE recordings SET status = 'scored', batch_id = NULL"))
    fixed = {**row, "text": "WE CALL IT A BEAR", "learner_id": "s1/kim-fixed", "submitted_at": "2026-09-08T10:00:00Z"}
    moved = {**other, "class_id": "4b"}
    result = ScoringClient().enqueue([fixed, moved], run="night-2")
    assert (result.registered, result.already_known, result.corrected) == (0, 0, 2)
    with session_scope(get_settings().database_url) as session:
        got = {
            r.source_id: r
            for r in session.execute(select(Recording).join(Learner, Learner.id == Recording.learner_id)).scalars()
        }
        assert got[row["recording_id"]].reference_text == "WE CALL IT A BEAR"
        assert got[row["recording_id"]].learner.external_id == "s1/kim-fixed"
        assert got[row["recording_id"]].submitted_at.day == 8
        assert got[row["recording_id"]].status.value == "queued", "a new text needs a new assessment"
        assert got[other["recording_id"]].class_id == "4b"
        assert got[other["recording_id"]].status.value == "scored", "a class changes no score"
    assert len(result.batches) == 1
    summary = CliRunner().invoke(app, ["status", "night-2"])
    assert "1 recordings" in summary.stdout


def test_new_audio_for_a_known_id_is_counted(no_worker: dict) -> None:
    first, second = short_sample(2)
    ScoringClient().enqueue([first], run="night-1")
    changed = ScoringClient().enqueue([{**second, "recording_id": first["recording_id"]}], run="night-2")
    assert (changed.registered, changed.new_versions) == (1, 1)


def test_retry_queues_a_runs_failed_recordings_again(no_worker: dict) -> None:
    result = ScoringClient().enqueue(short_sample(3), run="night-retry")
    with session_scope(get_settings().database_url) as session:
        session.execute(text("UPDATE batches SET status = 'done'"))
        session.execute(
            text("UPDATE recordings SET status = 'failed', failure_reason = 'attempts_exhausted', attempts = 3")
        )
        session.execute(text("UPDATE recordings SET failure_reason = 'object_missing' WHERE id = 1"))
    broker = redis.Redis.from_url(no_worker["PRONSCORE_REDIS_URL"])
    broker.delete("gpu")
    retried = CliRunner().invoke(app, ["retry", "night-retry", "--reason", "attempts_exhausted"])
    assert retried.exit_code == 0, retried.output
    assert "run night-retry: 2 failed recordings queued again in 1 batches" in retried.stdout
    with session_scope(get_settings().database_url) as session:
        states = set(session.execute(select(Recording.status, Recording.attempts, Recording.batch_id)).all())
    assert {(s.value, a) for s, a, _ in states} == {("queued", 0), ("failed", 3)}
    assert broker.llen("gpu") == 1
    new_batches = {b for s, _, b in states if s.value == "queued"}
    assert len(new_batches) == 1 and not new_batches & set(result.batches), "in a new batch"
    unknown = CliRunner().invoke(app, ["retry", "nope"])
    assert unknown.exit_code == 2 and "no run named 'nope'" in unknown.stderr


def test_status_shows_progress_within_a_running_batch(no_worker: dict) -> None:
    from db.batches import claim_batch, record_progress

    (batch_id,) = (
        ScoringClient(get_settings().model_copy(update={"batch_audio_seconds": 1000.0}))
        .enqueue(short_sample(3), run="night-progress")
        .batches
    )
    with session_scope(get_settings().database_url) as session:
        claim_batch(session, batch_id, "host:1", lease_seconds=60)
        record_progress(session, batch_id, "host:1", 2, 5)
    shown = CliRunner().invoke(app, ["status", "night-progress"])
    assert f"batch {batch_id}: 2 of 5 chunks scored" in shown.stdout


def test_retry_refuses_an_unknown_reason_and_names_the_valid_ones(no_worker: dict) -> None:
    ScoringClient().enqueue(short_sample(2), run="night-typo")
    with session_scope(get_settings().database_url) as session:
        session.execute(text("UPDATE batches SET status = 'done'"))
        session.execute(text("UPDATE recordings SET status = 'failed', failure_reason = 'attempts_exhausted'"))
    retried = CliRunner().invoke(app, ["retry", "night-typo", "--reason", "attempts_exausted"])
    assert retried.exit_code == 2, retried.output
    (message,) = retried.stderr.strip().splitlines()
    assert "unknown failure reason 'attempts_exausted'" in message
    assert all(reason.value in message for reason in FailureReason)
    with pytest.raises(UnknownReason, match="unknown failure reason 'nope'"):
        ScoringClient().retry("night-typo", reason="nope")
    with session_scope(get_settings().database_url) as session:
        assert set(session.execute(select(Recording.status)).scalars()) == {"failed"}, "nothing queued"


def test_a_long_file_is_refused_from_its_header_without_being_read_into_memory(no_worker: dict, tmp_path: Path) -> None:
    import tracemalloc

    two_hours = sparse_wav(tmp_path / "two-hours.wav", 2 * 3600)  # 230 MB
    row = short_sample(1)[0]
    rows = [{**row, "recording_id": f"long-{i}", "audio": str(two_hours)} for i in range(8)]
    tracemalloc.start()
    try:
        result = ScoringClient().enqueue(rows, run="night-long")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [e.reason for e in result.failed_at_intake] == ["audio_too_long: 7200.0 s is over the 40 s limit"] * 8
    assert peak < 32 * 2**20, f"taking in eight rows of one 230 MB file peaked at {peak / 2**20:.0f} MiB"


def test_recordings_known_from_ratings_are_queued_when_enqueued(no_worker: dict, tmp_path: Path) -> None:
    submissions = sample_submissions()[:3]
    ratings = tmp_path / "ratings.jsonl"
    write_ratings(submissions, ratings)
    with session_scope(get_settings().database_url) as session:
        assert import_ratings(session, ratings, "expert").registered == 3
    result = ScoringClient().enqueue([s.manifest_row() for s in submissions], run="night-rated")
    assert (result.registered, result.already_known, len(result.rejected)) == (0, 3, 0)
    with session_scope(get_settings().database_url) as session:
        rows = session.execute(select(Recording.storage_uri, Recording.run_id, Recording.batch_id)).all()
    assert len(rows) == 3, "the rated recordings themselves, no second version"
    assert all(uri.startswith("s3://") and run == result.run_id and batch for uri, run, batch in rows)


def test_a_recording_too_short_to_hold_a_word_fails_at_intake_and_is_never_uploaded(
    no_worker: dict, tmp_path: Path
) -> None:
    import numpy as np
    import soundfile

    noise = np.random.default_rng(0).standard_normal(16_000).astype(np.float32) * 0.1
    files = {"ten-ms": (noise[:160], 16_000), "24-ms-at-44k": (noise[:1058], 44_100), "25-ms": (noise[:400], 16_000)}
    good = short_sample(1)[0]
    rows = []
    for name, (samples, rate) in files.items():
        soundfile.write(tmp_path / f"{name}.wav", samples, rate)
        rows.append({**good, "recording_id": name, "audio": f"{name}.wav"})
    manifest = tmp_path / "night.jsonl"
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = CliRunner().invoke(app, ["enqueue", str(manifest), "--run", "night-short"])
    assert result.exit_code == 1, result.output
    said = " ".join(result.stderr.split())  # the console wraps long lines
    assert "failed at intake night.jsonl line 1: audio_too_short: 10.0 ms is under the 25 ms minimum" in said
    assert "failed at intake night.jsonl line 2: audio_too_short" in said
    assert "Traceback" not in result.output
    assert len(_objects(get_settings().s3_bucket)) == 1
    with session_scope(get_settings().database_url) as session:
        failed = dict(session.execute(select(Recording.source_id, Recording.failure_reason)).all())
    assert failed == {"ten-ms": "audio_too_short", "24-ms-at-44k": "audio_too_short", "25-ms": None}
