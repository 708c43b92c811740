"""Manifests: CSV or JSON Lines with one submitted recording per row.

Columns: recording_id, learner_id, class_id, audio (a local path, relative to the manifest's
folder, or s3://bucket/key), text (the reference sentence), submitted_at (ISO 8601; a time
without zone is taken as UTC). Each bad row is reported with its line number and reason; an
id that appears twice rejects every row carrying it, since we cannot tell which one is right.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

COLUMNS = ("recording_id", "learner_id", "class_id", "audio", "text", "submitted_at")
REQUIRED = ("recording_id", "learner_id", "audio", "text", "submitted_at")


class ManifestError(ValueError):
    """The manifest as a whole cannot be read (format, header)."""


@dataclass(frozen=True)
class Submission:
    """One recording to score, validated."""

    recording_id: str
    learner_id: str
    class_id: str | None
    audio: str
    text: str
    submitted_at: datetime
    line: int = 0

    @property
    def is_s3(self) -> bool:
        return self.audio.startswith("s3://")


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str
    recording_id: str | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class Validated:
    submissions: list[Submission] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _row(line: int, raw: Mapping[str, Any], base: Path | None) -> Submission | RowError:
    values = {k: ("" if raw.get(k) is None else str(raw.get(k)).strip()) for k in COLUMNS}
    missing = [name for name in REQUIRED if not values[name]]
    if missing:
        return RowError(line, f"missing {', '.join(missing)}", values["recording_id"] or None)
    try:
        submitted = _parse_time(values["submitted_at"])
    except ValueError:
        return RowError(
            line,
            f"submitted_at {values['submitted_at']!r} is not an ISO 8601 date-time",
            values["recording_id"],
        )
    audio = values["audio"]
    if not audio.startswith("s3://"):
        path = Path(audio)
        if base is not None and not path.is_absolute():
            path = base / path
        if not path.is_file():
            return RowError(line, f"audio file not found: {path}", values["recording_id"])
        audio = str(path.resolve())
    return Submission(
        recording_id=values["recording_id"],
        learner_id=values["learner_id"],
        class_id=values["class_id"] or None,
        audio=audio,
        text=values["text"],
        submitted_at=submitted,
        line=line,
    )


def validate(rows: Iterable[tuple[int, Mapping[str, Any]]], base: Path | None = None) -> Validated:
    """Validate numbered raw rows; duplicates of a recording_id are all rejected."""
    result = Validated()
    for line, raw in rows:
        parsed = _row(line, raw, base)
        (result.errors if isinstance(parsed, RowError) else result.submissions).append(parsed)
    lines_of: dict[str, list[int]] = defaultdict(list)
    for submission in result.submissions:
        lines_of[submission.recording_id].append(submission.line)
    duplicated = {rid: lines for rid, lines in lines_of.items() if len(lines) > 1}
    if duplicated:
        for submission in result.submissions:
            lines = duplicated.get(submission.recording_id)
            if lines:
                where = ", ".join(map(str, lines))
                result.errors.append(
                    RowError(
                        submission.line,
                        f"recording_id {submission.recording_id!r} appears more than once (lines {where})",
                        submission.recording_id,
                    )
                )
        result.submissions = [s for s in result.submissions if s.recording_id not in duplicated]
    result.errors.sort(key=lambda error: error.line)
    return result


def _csv_rows(path: Path) -> Iterable[tuple[int, Mapping[str, Any]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ManifestError(f"{path.name}: the header lacks the column(s) {', '.join(missing)}")
        rows = []
        for raw in reader:
            rows.append((reader.line_num, raw))
        return rows


def _jsonl_rows(path: Path) -> tuple[list[tuple[int, Mapping[str, Any]]], list[RowError]]:
    rows, errors = [], []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            errors.append(RowError(number, f"not valid JSON ({error.msg})"))
            continue
        if not isinstance(value, dict):
            errors.append(RowError(number, "not a JSON object"))
            continue
        rows.append((number, value))
    return rows, errors


def read_manifest(path: Path) -> Validated:
    """Read and validate a manifest; relative audio paths resolve against its folder."""
    if not path.is_file():
        raise ManifestError(f"manifest not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return validate(_csv_rows(path), path.parent)
    if suffix in {".jsonl", ".ndjson", ".json"}:
        rows, errors = _jsonl_rows(path)
        result = validate(rows, path.parent)
        result.errors = sorted(result.errors + errors, key=lambda error: error.line)
        return result
    raise ManifestError(f"{path.name}: a manifest is .csv or .jsonl, not {suffix or 'extensionless'}")
