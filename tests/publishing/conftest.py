"""A class to build the teacher's site of: hand-made rows over real recordings, whose audio is in
the session's S3 server, read back as the read-only role."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import soundfile
from sqlalchemy import text, update

from db.models import Recording, RecordingStatus, WordScore
from db.session import get_engine, session_scope
from db.upserts import upsert_model_version
from pronscore.settings import Settings
from pronscore.storage import AudioStore
from publishing.content import SiteRequest
from publishing.site import BuiltSite, build_site
from publishing.source import report_database_url
from tests.conftest import SAMPLE_DIR, TABLES
from tests.factories import add_assessment, add_recording, scored
from tests.pipeline import S3Server

CLASS = "class-t"
MODEL = "gop-test"
HOSTILE = "<script>window.__xss=1</script>"  # a learner id from a manifest, which must stay text
LEARNERS = ("amir", "bea", HOSTILE)
WEEK_ONE = datetime(2026, 9, 7, 10, tzinfo=UTC)


@dataclass(frozen=True)
class ClassSite:
    site: BuiltSite
    database_url: str
    store: AudioStore


def _labels() -> list[dict]:
    return [json.loads(line) for line in (SAMPLE_DIR / "labels.jsonl").read_text().splitlines()]


def store_for(server: S3Server) -> AudioStore:
    settings = Settings(
        s3_endpoint_url=server.endpoint,
        s3_access_key_id=server.access_key,
        s3_secret_access_key=server.secret_key,
        s3_bucket=f"pronscore-site-{uuid.uuid4().hex[:8]}",
    )
    store = AudioStore(settings)
    store.ensure_bucket()
    return store


def fill_class(database_url: str, store: AudioStore) -> None:
    """Three learners over three weeks (the second without recordings for bea), per-word scores,
    the experts' ratings of a few, one recording that failed and one known only from ratings."""
    with get_engine(database_url).begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    labels = iter(_labels())
    with session_scope(database_url) as session:
        upsert_model_version(session, MODEL, decoding={"engine": "gop"})
        upsert_model_version(session, "human:expert", is_human=True)
        for n, learner in enumerate(LEARNERS):
            for week in range(3):
                if learner == "bea" and week == 1:
                    continue
                for take in range(2):
                    label = next(labels)
                    data = (SAMPLE_DIR / label["audio"]).read_bytes()
                    sha = hashlib.sha256(data).hexdigest()
                    uri, _ = store.put_if_absent(data, sha, ".wav")
                    source = f"{learner}-w{week}-{take}"
                    when = WEEK_ONE + timedelta(weeks=week, hours=take)
                    recording = add_recording(session, source, learner, CLASS, when, reference_text=label["text"])
                    session.execute(
                        update(Recording)
                        .where(Recording.id == recording)
                        .values(
                            storage_uri=str(uri),
                            sha256=sha,
                            duration_seconds=soundfile.info(SAMPLE_DIR / label["audio"]).duration,
                            status=RecordingStatus.scored,
                        )
                    )
                    words = label["text"].upper().replace(".", "").replace(",", "").split()
                    total = min(10, 3 + 2 * week + n)
                    assessment = add_assessment(
                        session,
                        recording,
                        MODEL,
                        scored((total,) * 4, [(w, "AH") for w in words], " ".join("AH" for _ in words)),
                    )
                    for index, word in enumerate(words):
                        accuracy = (index * 3.7 + week + n) % 10
                        error = (
                            "Omission"
                            if accuracy < 1
                            else ("Mispronunciation" if accuracy < 5 or index == 2 else "None")
                        )
                        session.add(
                            WordScore(
                                assessment_id=assessment,
                                word_index=index,
                                word=word,
                                accuracy=accuracy,
                                error_type=error,
                            )
                        )
                    if take == 0:
                        add_assessment(session, recording, "human:expert", scored((6, 6, 6, 6)))
        add_recording(
            session,
            "amir-broken",
            "amir",
            CLASS,
            WEEK_ONE,
            status=RecordingStatus.failed,
            failure_reason="audio_silent",
        )
        rated = add_recording(session, "bea-rated", "bea", CLASS, WEEK_ONE + timedelta(weeks=2, hours=5))
        session.execute(update(Recording).where(Recording.id == rated).values(storage_uri="file:///ratings/bea.wav"))
        add_assessment(session, rated, "human:expert", scored((7, 7, 7, 7)))


def build(database_url: str, store: AudioStore | None, out: Path, **request: object) -> BuiltSite:
    request.setdefault("classes", (CLASS,))
    reporter = report_database_url(Settings(database_url=database_url))
    with session_scope(reporter) as session:
        return build_site(session, store, SiteRequest(**request), out)


@pytest.fixture(scope="module")
def class_site(database_url: str, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClassSite]:
    store = store_for(s3_server)
    fill_class(database_url, store)
    site = build(database_url, store, tmp_path_factory.mktemp("site") / "class-t", compare="human:expert")
    yield ClassSite(site, database_url, store)
