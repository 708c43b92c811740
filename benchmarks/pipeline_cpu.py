"""CPU cost of the pipeline around the model, per recording, at batches of 64.

Enqueues through the real producer (which stores audio at 16 kHz mono), then runs the real batch
runner (`worker.runner.run_batch`) against a real PostgreSQL database and a local S3 server, with
model generation replaced by canned answers (the task format's targets for each utterance), so
what is measured is everything else: S3 fetch, decode, resample, parse, MDD diff and the database
write. Prints CPU milliseconds per recording (all threads of the process), wall time, each stage's
share, and the producer's CPU per recording for the enqueue.

Stages are timed at the runtime's seams: its fetch threads (fetch + decode + resample), its
batch ledger's `complete` (database write) and the engine (parse + diff).

    .venv/bin/python benchmarks/pipeline_cpu.py [--batches 6] [--rate 16000|48000] [--generation-ms 15]
    .venv/bin/python benchmarks/pipeline_cpu.py --engine gop    # the GOP engine's results, with word and phone scores

Needs PostgreSQL on 127.0.0.1:5432 (trust auth) and starts its own S3 server.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from threading import Lock

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.services import bench_settings  # noqa: E402
from engines import EngineVersion  # noqa: E402
from engines.phi4mm.version import Phi4Version  # noqa: E402
from producer.client import ScoringClient  # noqa: E402
from producer.sample import sample_submissions  # noqa: E402
from scoring.assessment import assess  # noqa: E402
from scoring.formats import get_format  # noqa: E402
from scoring.lexicon import default_lexicon  # noqa: E402
from scoring.parsing import parse_outputs  # noqa: E402
from scoring.speechocean import parse_utterance  # noqa: E402
from worker.ledger import BatchLedger  # noqa: E402
from worker.runner import run_batch  # noqa: E402
from worker.runtime import Runtime  # noqa: E402

STAGES: dict[str, float] = defaultdict(float)
_STAGES_LOCK = Lock()


@contextmanager
def stage(name: str):
    """CPU time of the calling thread only (fetches run on several threads at once)."""
    started = time.thread_time()
    yield
    with _STAGES_LOCK:
        STAGES[name] += time.thread_time() - started


class TimedFetchThreads(ThreadPoolExecutor):
    """The runtime's fetch threads, each fetch's CPU counted as fetch + decode + resample."""

    def submit(self, fn, /, *args, **kwargs):
        def timed():
            with stage("fetch + decode + resample"):
                return fn(*args, **kwargs)

        return super().submit(timed)


class TimedLedger:
    """The runtime's batch ledger, the batch's write counted as the database write."""

    def __init__(self, ledger: BatchLedger) -> None:
        self.ledger = ledger

    def __getattr__(self, name: str):
        return getattr(self.ledger, name)

    def complete(self, *args):
        with stage("database write"):
            return self.ledger.complete(*args)


class CannedEngine:
    """Answers with each utterance's true target: no model time, real parsing and diffing."""

    def __init__(self, answers: dict[str, str], generation_ms: float = 0.0) -> None:
        self.answers = answers
        self.generation_ms = generation_ms
        self.task = get_format("joint-v1")
        self.lexicon = default_lexicon()
        self.version = EngineVersion(
            "canned/joint-v1", "canned", "canned", None, None, {}, Phi4Version("joint-v1", "float32", "fast"), True
        )

    def close(self) -> None:
        pass

    def score(self, items):
        time.sleep(self.generation_ms * len(items) / 1000)  # a GPU busy generating, CPU idle
        fields = [turn.fields for turn in self.task.turns("")]
        with stage("parse + diff"):
            return [
                assess(item.reference_text, parse_outputs([raw], fields), raw, self.lexicon)
                for item in items
                for raw in [self.answers[item.reference_text]]
            ]


class CannedGopEngine:
    """The GOP engine's real results for each sentence, computed before timing: what is measured
    is the worker around the engine, writing word and phone scores included."""

    def __init__(self, submissions) -> None:
        from engines import ScoringItem
        from engines.gop import GopConfig, GopEngine

        engine = GopEngine(GopConfig())
        self.version = engine.version
        self.results = {}
        for s in submissions:
            if s.label["text"] not in self.results:
                samples, _ = soundfile.read(s.audio, dtype="float32")
                self.results[s.label["text"]] = engine.score([ScoringItem(samples, s.label["text"])])[0]

    def close(self) -> None:
        pass

    def score(self, items):
        return [self.results[item.reference_text] for item in items]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--rate", type=int, default=16000, help="store the audio at this rate, stereo if not 16000")
    parser.add_argument(
        "--generation-ms",
        type=float,
        default=0.0,
        help="simulate this much GPU time per recording; queued batches of 256 then generate in chunks of 64, "
        "and the wall time shows how much fetching is left exposed",
    )
    parser.add_argument("--engine", choices=["canned", "gop"], default="canned",
                        help="canned: joint-v1 answers parsed and diffed; gop: the GOP engine's results")  # fmt: skip
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pronscore-bench-"))
    with bench_settings(work, batch_audio_seconds=1e9, chunk_audio_seconds=1e9) as settings:
        submissions = sample_submissions(ROOT / "data" / "speechocean762-sample")
        answers = {s.label["text"]: get_format("joint-v1").targets(parse_utterance(s.label))[0] for s in submissions}
        rows = []
        per_batch = 256 if args.generation_ms else 64
        for copy in range(args.batches * per_batch // len(submissions) + 1):
            for s in submissions:
                samples, rate = soundfile.read(s.audio, dtype="float32")
                if args.rate != rate:
                    positions = np.arange(0, len(samples), rate / args.rate)
                    resampled = np.interp(positions, np.arange(len(samples)), samples) * (1 - copy * 1e-3)
                    samples = np.stack([resampled, resampled], axis=1)
                else:
                    samples = samples * (1 - copy * 1e-3)  # distinct content per copy
                path = work / f"{copy}-{s.label['utt']}.wav"
                buffer = io.BytesIO()
                soundfile.write(buffer, samples, args.rate, format="WAV")
                path.write_bytes(buffer.getvalue())
                rows.append({**s.manifest_row(), "recording_id": f"{copy}-{s.label['utt']}", "audio": str(path)})
        rows = rows[: args.batches * per_batch]
        client = ScoringClient(settings)  # no worker reads its messages: the runner is called directly
        batches = []
        enqueue_cpu = time.process_time()
        for start in range(0, len(rows), per_batch):
            batches += client.enqueue(rows[start : start + per_batch], run=f"bench-{start}").batches
        enqueue_cpu = time.process_time() - enqueue_cpu
        if args.generation_ms:  # chunks of about 64 recordings
            mean_seconds = sum(soundfile.info(r["audio"]).duration for r in rows[:64]) / 64
            settings = settings.model_copy(update={"chunk_audio_seconds": 64 * mean_seconds})

        engine = CannedGopEngine(submissions) if args.engine == "gop" else CannedEngine(answers, args.generation_ms)
        runtime = Runtime.from_settings(settings, engine=engine)
        runtime.ledger = TimedLedger(runtime.ledger)
        runtime.fetchers = TimedFetchThreads(max_workers=8, thread_name_prefix="fetch")
        run_batch(batches[0], runtime)  # warm-up: lexicon, connections, imports
        STAGES.clear()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for batch_id in batches[1:]:
            run_batch(batch_id, runtime)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        count = len(rows) - per_batch  # the first batch warms up
        result = {
            "engine": args.engine,
            "recordings": count,
            "batch_size": per_batch,
            "simulated_generation_ms_per_recording": args.generation_ms,
            "uploaded_audio": f"{args.rate} Hz {'mono' if args.rate == 16000 else 'stereo'} WAV",
            "producer_cpu_ms_per_recording (enqueue: read, hash, normalise, upload, register)": round(
                enqueue_cpu * 1000 / len(rows), 2
            ),
            "cpu_ms_per_recording": round(cpu * 1000 / count, 2),
            "wall_ms_per_recording": round(wall * 1000 / count, 2),
            "stage_cpu_ms_per_recording": {k: round(v * 1000 / count, 2) for k, v in STAGES.items()},
        }
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
