"""How long the teacher's site of one class takes to build, and how large it is.

Target: a class of 30 learners x 40 recordings builds in under 10 s, and the whole site is
under 20 MB with audio embedded. The class is made in a throwaway database and S3 server: each
recording a sample utterance at its own gain (so every file is distinct, as real recordings are),
scored with per-word scores and phone diffs, half of them rated by an expert too. The build runs
as the read-only role, as `pronscore report html --class C --compare human:expert` does: cold
(an empty folder, every recording fetched and encoded) and warm (rebuilt over the previous build,
whose audio is reused).

    .venv/bin/python benchmarks/teacher_site.py                 # the 10 latest recordings a learner
    .venv/bin/python benchmarks/teacher_site.py --recent 40     # every recording with audio
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import soundfile
from sqlalchemy import update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.services import bench_settings  # noqa: E402
from db.models import Recording, RecordingStatus, WordScore  # noqa: E402
from db.session import session_scope  # noqa: E402
from db.upserts import upsert_model_version  # noqa: E402
from pronscore.storage import AudioStore  # noqa: E402
from publishing.content import SiteRequest  # noqa: E402
from publishing.site import build_site  # noqa: E402
from publishing.source import report_database_url  # noqa: E402
from tests.factories import add_assessment, add_recording, scored  # noqa: E402

SAMPLE = ROOT / "data" / "speechocean762-sample"
CLASS = "bench-class"


def make_class(settings, store: AudioStore, learners: int, recordings: int) -> float:
    """The class's rows and audio; returns the seconds of audio stored."""
    labels = [json.loads(line) for line in (SAMPLE / "labels.jsonl").read_text().splitlines()]
    start = datetime(2026, 9, 7, 9, tzinfo=UTC)
    seconds = 0.0
    with session_scope(settings.database_url) as session:
        upsert_model_version(session, "gop-bench", decoding={"engine": "gop"})
        upsert_model_version(session, "human:expert", is_human=True)
        for learner in range(learners):
            for n in range(recordings):
                label = labels[(learner * recordings + n) % len(labels)]
                samples, rate = soundfile.read(SAMPLE / label["audio"], dtype="float32")
                buffer = io.BytesIO()
                soundfile.write(
                    buffer, samples * (0.5 + 0.5 * ((learner * recordings + n) % 97) / 97), rate, format="WAV"
                )
                data = buffer.getvalue()
                sha = hashlib.sha256(data).hexdigest()
                uri, _ = store.put_if_absent(data, sha, ".wav")
                seconds += len(samples) / rate
                words = [w.strip(".,!?").upper() for w in label["text"].split()]
                recording = add_recording(
                    session,
                    f"r-{learner}-{n}",
                    f"learner-{learner:02d}",
                    CLASS,
                    start + timedelta(days=n * 70 // recordings, hours=learner % 8),
                    reference_text=label["text"],
                )
                session.execute(
                    update(Recording)
                    .where(Recording.id == recording)
                    .values(
                        storage_uri=str(uri),
                        sha256=sha,
                        duration_seconds=len(samples) / rate,
                        status=RecordingStatus.scored,
                    )
                )
                total = 3 + (learner + n // 8) % 8
                assessment = add_assessment(
                    session,
                    recording,
                    "gop-bench",
                    scored((total,) * 4, [(w, "AH T") for w in words], " ".join("AH T" for _ in words)),
                )
                session.add_all(
                    WordScore(
                        assessment_id=assessment,
                        word_index=i,
                        word=w,
                        accuracy=(i * 3.1 + n) % 10,
                        error_type="Mispronunciation" if (i * 3.1 + n) % 10 < 5 else "None",
                    )
                    for i, w in enumerate(words)
                )
                if n % 2 == 0:
                    add_assessment(session, recording, "human:expert", scored((6, 6, 6, 6)))
    return seconds


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--recordings", type=int, default=40)
    parser.add_argument("--recent", type=int, default=10, help="latest recordings per learner with audio")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as work, bench_settings(Path(work)) as settings:
        store = AudioStore(settings)
        store.ensure_bucket()
        started = time.perf_counter()
        audio_seconds = make_class(settings, store, args.learners, args.recordings)
        print(
            f"class made: {args.learners} learners x {args.recordings} recordings, "
            f"{audio_seconds / 60:.1f} min of audio, in {time.perf_counter() - started:.0f} s"
        )
        request = SiteRequest(classes=(CLASS,), compare="human:expert", recent=args.recent)
        out = Path(work) / "site"
        for build in ("cold", "warm"):
            wall, cpu = time.perf_counter(), time.process_time()
            with session_scope(report_database_url(settings)) as session:
                site = build_site(session, store, request, out)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            pages = len(list(out.rglob("*.html")))
            print(
                f"{build} build: {wall:.2f} s wall, {cpu:.2f} s CPU; {pages} pages, {site.audio_files} audio files; "
                f"site {_size(out) / 1e6:.1f} MB (audio {_size(out / 'audio') / 1e6:.1f} MB)"
            )


if __name__ == "__main__":
    main()
