"""Where a device benchmark's figures go: benchmarks/results/, named by benchmark, device and
time, and also $OUT when it is set (a lent GPU machine returns only what is written there)."""

from __future__ import annotations

import datetime
import json
import os
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def write_device_result(report: dict[str, Any], benchmark: str, out: Path | None = None) -> Path:
    """Write `report` as JSON (to `out`, or a file named after the benchmark and the report's
    device), print it, and return where it went."""
    text = json.dumps(report, indent=2, default=str)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M")
    device = str(report["device"]).replace(" ", "-").replace("/", "-")
    out = out or RESULTS / f"{benchmark}-{device}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], out.name).write_text(text + "\n")
    print(text)
    print(f"written to {out}", file=sys.stderr)
    return out
