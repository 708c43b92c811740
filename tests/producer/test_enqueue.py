"""Enqueueing against the real database, Redis and S3 server (no worker needed)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.app import app
from db.models import Batch, Learner, Recording, Run
from db.session import session_scope
from producer.client import ScoringClient
from producer.sample import write_manifest
from pronscore.settings import get_settings
from pronscore.storage import AudioStore, S3Uri, StorageError
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
    assert result.stdout.strip().isdigit()  # the run id
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

    ScoringClient().enqueue([{**row, "audio": str(stereo)}, {**row, "recording_id": "x", "audio": str(corrupt)}])
    store = AudioStore(get_settings())
    with session_scope(get_settings().database_url) as session:
        stored = dict(session.execute(select(Recording.source_id, Recording.storage_uri)).all())
    kept = soundfile.info(io.BytesIO(store.get(S3Uri.parse(stored[row["recording_id"]]))))
    assert (kept.samplerate, kept.channels, kept.subtype) == (16_000, 1, "PCM_16")
    assert kept.duration == pytest.approx(len(samples) / rate, abs=0.01)
    assert store.get(S3Uri.parse(stored["x"])) == corrupt.read_bytes(), "what does not decode is kept as sent"
