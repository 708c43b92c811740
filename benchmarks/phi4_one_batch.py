"""The bundled sample five times over (720 recordings) as one batch, drained by two Phi-4
workers under a 5 s lease: every recording must be scored once and no attempt charged.

Before per-recording feature extraction this batch raised in the extractor on every attempt and
all 720 recordings ended `attempts_exhausted`. The engine is the tiny checkpoint on the CPU
(its scores mean nothing; what is checked is that every recording comes through), so expect
minutes. Needs PostgreSQL on 127.0.0.1:5432 (trust auth) and Redis; starts its own S3 server
and database, and empties and uses Redis database `--redis-db`. Writes
benchmarks/results/phi4_one_batch-DATE.json.

    .venv/bin/pronscore model tiny var/tiny        # once, if there is no tiny checkpoint
    nice -n 10 .venv/bin/python benchmarks/phi4_one_batch.py var/tiny [--copies 5] [--redis-db 13]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from benchmarks.services import bench_settings, service_env  # noqa: E402
from db.models import Assessment, Batch, Recording  # noqa: E402
from db.session import session_scope  # noqa: E402
from producer.client import ScoringClient  # noqa: E402
from producer.sample import sample_submissions  # noqa: E402
from pronscore.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", help="a tiny checkpoint (`pronscore model tiny DIR`)")
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--lease-seconds", type=int, default=5)
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="phi4-one-batch-"))
    one_batch = {"batch_audio_seconds": 1_000_000, "lease_seconds": args.lease_seconds}  # the whole run
    workers: list[subprocess.Popen] = []
    with bench_settings(work, redis_db=args.redis_db, **one_batch) as settings:
        env = {
            **os.environ,
            **service_env(settings),
            "PRONSCORE_ENGINE": "phi4mm",
            "PRONSCORE_MODEL": str(Path(args.model).resolve()),
            "PRONSCORE_BATCH_AUDIO_SECONDS": str(one_batch["batch_audio_seconds"]),
            "PRONSCORE_LEASE_SECONDS": str(args.lease_seconds),
            "HF_HUB_OFFLINE": "1",
        }
        try:
            _run(args, work, settings, env, workers)
        finally:
            for worker in workers:
                if worker.poll() is None:
                    os.killpg(worker.pid, 15)


def _run(args: argparse.Namespace, work: Path, settings: Settings, env: dict[str, str],
         workers: list[subprocess.Popen]) -> None:  # fmt: skip
    """Enqueue the copies as one batch, drain it with `args.workers` workers, write the figures."""
    rows = [s.manifest_row() for s in sample_submissions(ROOT / "data" / "speechocean762-sample")]
    copies = [{**row, "recording_id": f"{row['recording_id']}#{copy}"} for copy in range(args.copies) for row in rows]
    result = ScoringClient(settings).enqueue(copies, run="one-batch")
    with session_scope(settings.database_url) as session:
        batches = session.execute(select(func.count()).select_from(Batch)).scalar_one()
    print(f"enqueued {result.registered} recordings in {batches} batch(es)")
    started = time.perf_counter()
    logs = [(work / f"worker-{i}.log").open("w") for i in range(args.workers)]
    workers.extend(
        subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "pronscore"), "worker", "--drain", "--loglevel", "INFO"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for log in logs
    )
    for worker in workers:
        worker.wait(timeout=args.timeout)
    elapsed = time.perf_counter() - started
    with session_scope(settings.database_url) as session:
        statuses = Counter(
            f"{status.value}:{reason}" if reason else status.value
            for status, reason in session.execute(select(Recording.status, Recording.failure_reason))
        )
        attempts = Counter(a for (a,) in session.execute(select(Recording.attempts)))
        per_recording = Counter(
            n
            for (n,) in session.execute(
                select(func.count(Assessment.id)).select_from(Recording).outerjoin(Assessment).group_by(Recording.id)
            )
        )
    claims = sum(log.read_text().count("scoring ") for log in (work / f"worker-{i}.log" for i in range(args.workers)))
    figures = {
        "recordings": result.registered,
        "batches": batches,
        "workers": args.workers,
        "lease_seconds": args.lease_seconds,
        "statuses": dict(statuses),
        "attempts": {str(k): v for k, v in attempts.items()},
        "assessments_per_recording": {str(k): v for k, v in per_recording.items()},
        "batch_claims_logged": claims,
        "worker_exit_codes": [w.returncode for w in workers],
        "wall_seconds": round(elapsed, 1),
    }
    print(json.dumps(figures, indent=2))
    out = ROOT / "benchmarks" / "results" / f"phi4_one_batch-{date.today():%Y%m%d}.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}; worker logs in {work}")


if __name__ == "__main__":
    main()
