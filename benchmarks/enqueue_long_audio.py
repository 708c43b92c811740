"""Memory of enqueueing rows that point at one very long local file.

Writes a sparse 16 kHz mono 16-bit WAV of `--hours` hours (230 MB for two hours, written in no
time and taking no disk) and a manifest of `--rows` rows pointing at it, then enqueues them
through the real `ScoringClient.enqueue_manifest` into a fresh PostgreSQL database, Redis
database 13 and a local S3 server. Every row must fail at intake as `audio_too_long`; the figure
is the process's peak RSS (`ru_maxrss`) and how much of it the enqueue added. Target: the rows
cost no more memory than short ones (the file is never read whole).

    .venv/bin/python benchmarks/enqueue_long_audio.py [--hours 2] [--rows 8] [--out FILE.json]

Needs PostgreSQL on 127.0.0.1:5432 (trust auth) and Redis on 127.0.0.1:6379; starts its own S3 server.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.services import bench_settings  # noqa: E402
from producer.client import ScoringClient  # noqa: E402
from tests.factories import sparse_wav  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--out", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pronscore-long-"))
    audio = sparse_wav(work / "long.wav", args.hours * 3600)
    manifest = work / "night.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["recording_id", "learner_id", "class_id", "audio", "text", "submitted_at"])
        for i in range(args.rows):
            writer.writerow([f"long/{i}", "kim", "4a", audio.name, "WE CALL IT BEAR", "2026-11-26T10:00:00Z"])
    with bench_settings(work) as settings:
        ScoringClient(settings).store.ensure_bucket()  # the S3 client's own memory is not the enqueue's
        rss_before = peak_rss_mib()
        started = time.perf_counter()
        result = ScoringClient(settings).enqueue_manifest(manifest, run="bench-long")
        wall = time.perf_counter() - started
        rss_after = peak_rss_mib()
    reasons = sorted({error.reason.split(":")[0] for error in result.failed_at_intake})
    figures = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", *sys.argv]),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip(),
        "file_mb": round(audio.stat().st_size / 1e6, 1),
        "rows": args.rows,
        "failed_at_intake": len(result.failed_at_intake),
        "reasons": reasons,
        "wall_seconds": round(wall, 2),
        "peak_rss_mib_before_enqueue": round(rss_before, 1),
        "peak_rss_mib": round(rss_after, 1),
        "enqueue_added_mib": round(rss_after - rss_before, 1),
    }
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
