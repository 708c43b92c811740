"""Each phone's log-posterior norms for the GOP engine's neural front end, from unlabelled reads.

Reads of the corpus's training split (leaving out the sample's speakers, `--exclude`, and the
evaluation speakers of `training.frontend_data`) are force-aligned to their own sentences and
run through the front end; every aligned phone's per-frame log posterior goes into its phone's
mean and standard deviation (`engines/gop/neural/norms.py` says what they are for). No
ratings are needed.

    .venv/bin/python -m training.gop_norms --data /path/to/speechocean762 \\
        --exclude data/speechocean762-sample --limit 600 --jobs 2 --out engines/gop/data/phone-norms.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from engines.gop.analysis import AlignmentFailed, Analyser
from engines.gop.neural.frontend import load_front_end
from scoring.audio import AudioError, decode
from training.gop_offtask import Read, drawn_reads

MIN_COUNT = 20  # fewer aligned instances than this give no norm (the phone then scores z = 0)

_analyser: Analyser | None = None


def _log_posteriors(read: Read) -> list[tuple[str, float]]:
    """(phone, per-frame log posterior) of each phone of one read aligned to its sentence."""
    global _analyser
    if _analyser is None:
        _analyser = Analyser(front_end=load_front_end())
    try:
        analysis = _analyser.analyse(decode(read.audio.read_bytes(), 40.0), read.text)
    except (AudioError, AlignmentFailed):
        return []
    return [(e.phone, e.score / max(e.duration, 1)) for e in analysis.evidence]


def norms(reads: list[Read], jobs: int) -> dict[str, list[float]]:
    values: dict[str, list[float]] = defaultdict(list)
    with ProcessPoolExecutor(jobs) as pool:
        for found in pool.map(_log_posteriors, reads, chunksize=8):
            for phone, value in found:
                values[phone].append(value)
    return {
        phone: [round(float(np.mean(v)), 4), round(float(np.std(v)), 4), len(v)]
        for phone, v in sorted(values.items())
        if len(v) >= MIN_COUNT
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="speechocean762 release folder (ratings not needed)")
    parser.add_argument("--exclude", type=Path, help="leave out the speakers of this dataset (the evaluation data)")
    parser.add_argument("--limit", type=int, default=600, help="reads, drawn at random")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("phone-norms.json"))
    args = parser.parse_args()
    reads = drawn_reads(args.data, "train", args.exclude, args.limit)
    front_end = load_front_end()
    found = norms(reads, args.jobs)
    body = {
        "phones": {phone: stats[:2] for phone, stats in found.items()},
        "counts": {phone: stats[2] for phone, stats in found.items()},
        "trained_on": {
            "data": args.data.name,
            "split": "train",
            "reads": len(reads),
            "speakers": len({r.speaker for r in reads}),
            "fingerprint": hashlib.sha256(" ".join(sorted(r.utt for r in reads)).encode()).hexdigest(),
            "excluded_speakers_of": str(args.exclude) if args.exclude else None,
            "front_end": front_end.name,
        },
    }
    args.out.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"norms of {len(found)} phones from {len(reads)} reads written to {args.out}")


if __name__ == "__main__":
    main()
