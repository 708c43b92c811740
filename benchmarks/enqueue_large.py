"""Enqueue a large manifest: wall time and peak memory of `ScoringClient.enqueue_manifest`.

Writes a CSV of `--rows` rows (the speechocean762 sample's files repeated under new ids), then
enqueues it through the real producer into a fresh PostgreSQL database, Redis database 13 and a
local S3 server: streamed in chunks, every recording read, hashed and decoded, each distinct
content uploaded once. Targets: 100,000 rows in under 5 minutes and under 300 MB on the
development machine.

    .venv/bin/python benchmarks/enqueue_large.py [--rows 100000] [--out benchmarks/results/enqueue_large-DATE.json]

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

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.services import bench_settings  # noqa: E402
from producer.client import ScoringClient  # noqa: E402
from producer.sample import sample_submissions  # noqa: E402


def write_manifest(path: Path, rows: int) -> None:
    """`rows` rows cycling through the sample, each under an id of its own."""
    sample = [s.manifest_row() for s in sample_submissions(ROOT / "data" / "speechocean762-sample")]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(sample[0]))
        writer.writeheader()
        for i in range(rows):
            writer.writerow({**sample[i % len(sample)], "recording_id": f"bench/{i:07d}"})


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pronscore-enqueue-"))
    manifest = work / "night.csv"
    write_manifest(manifest, args.rows)
    with bench_settings(work) as settings:
        rss_before = peak_rss_mib()
        started, cpu = time.perf_counter(), time.process_time()
        result = ScoringClient(settings).enqueue_manifest(manifest, run="bench")
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        with psycopg.connect(settings.database_url.replace("+psycopg", "")) as conn:
            registered = conn.execute("SELECT count(*) FROM recordings WHERE batch_id IS NOT NULL").fetchone()[0]
        figures = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(["python", *sys.argv]),
            "commit": subprocess.run(
                ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT
            ).stdout.strip(),
            "rows": args.rows,
            "chunk_rows": settings.enqueue_chunk_rows,
            "registered_and_batched": registered,
            "rejected": len(result.rejected),
            "uploaded_objects": result.uploaded,
            "batches": len(result.batches),
            "wall_seconds": round(wall, 1),
            "rows_per_second": round(args.rows / wall, 1),
            "cpu_seconds": round(cpu, 1),
            "peak_rss_mib": round(peak_rss_mib(), 1),
            "peak_rss_mib_before_enqueue": round(rss_before, 1),
            "targets": {"wall_seconds": 300, "peak_rss_mib": 286},
        }
        print(json.dumps(figures, indent=2))
        if args.out:
            args.out.write_text(json.dumps(figures, indent=2) + "\n")
        assert registered == args.rows, f"only {registered} of {args.rows} rows registered"


if __name__ == "__main__":
    main()
