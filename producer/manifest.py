"""Manifests: CSV or JSON Lines with one submitted recording per row, read as a stream.

Columns: recording_id, learner_id, class_id, audio (a local path, relative to the manifest's
folder, or s3://bucket/key), text (the reference sentence), submitted_at (ISO 8601; a time
without zone is taken as UTC). Each bad row is reported with its line number and reason, and
only that row is lost: bytes that are not UTF-8, a NUL character, an over-long id or text, a
CSV field over the csv module's limit or a quote left open, a JSON array, object or boolean
where text belongs, a date outside the accepted range. An id that appears twice rejects every
row carrying it, since we cannot tell which one is right.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from producer.intake import locate
from pronscore.settings import Settings, get_settings
from pronscore.storage import S3Uri

COLUMNS = ("recording_id", "learner_id", "class_id", "audio", "text", "submitted_at")
REQUIRED = ("recording_id", "learner_id", "audio", "text", "submitted_at")
IDS = ("recording_id", "learner_id", "class_id")


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

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


NumberedRow = tuple[int, Mapping[str, Any] | RowError]


@dataclass
class Validated:
    submissions: list[Submission] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


@dataclass(frozen=True)
class RowRules:
    """What a row must satisfy: the settings' limits, and the folder relative paths start from."""

    base: Path | None
    audio_root: Path | None
    max_id_length: int
    max_text_length: int
    earliest: datetime
    max_ahead: timedelta

    @classmethod
    def from_settings(cls, settings: Settings, base: Path | None = None) -> RowRules:
        return cls(
            base=base,
            audio_root=settings.audio_root,
            max_id_length=settings.max_id_length,
            max_text_length=settings.max_text_length,
            earliest=datetime.combine(settings.earliest_submitted_at, time(), UTC),
            max_ahead=timedelta(hours=settings.submitted_at_max_ahead_hours),
        )


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text_problem(values: Mapping[str, str], rules: RowRules) -> str | None:
    for name, value in values.items():
        if "\x00" in value:
            return f"{name} contains a NUL character"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{name} is not UTF-8 text"
    for name in IDS:
        if len(values[name]) > rules.max_id_length:
            return (
                f"{name} is {len(values[name])} characters long; the limit is {rules.max_id_length} "
                "(PRONSCORE_MAX_ID_LENGTH)"
            )
    if len(values["text"]) > rules.max_text_length:
        return (
            f"text is {len(values['text'])} characters long; the limit is {rules.max_text_length} "
            "(PRONSCORE_MAX_TEXT_LENGTH)"
        )
    return None


def parse_submitted_at(value: str, rules: RowRules) -> datetime | str:
    """The date-time, or why it is not accepted (unreadable, or outside the accepted range)."""
    try:
        submitted = _parse_time(value)
    except (ValueError, OverflowError):
        return f"submitted_at {value!r} is not an ISO 8601 date-time"
    if submitted < rules.earliest:
        return f"submitted_at {value!r} is before {rules.earliest:%Y-%m-%d} (PRONSCORE_EARLIEST_SUBMITTED_AT)"
    if submitted > datetime.now(UTC) + rules.max_ahead:
        hours = rules.max_ahead.total_seconds() / 3600
        return f"submitted_at {value!r} is more than {hours:g} h ahead (PRONSCORE_SUBMITTED_AT_MAX_AHEAD_HOURS)"
    return submitted


def validate_row(line: int, raw: Mapping[str, Any], rules: RowRules) -> Submission | RowError:
    values = {k: ("" if raw.get(k) is None else str(raw.get(k)).strip()) for k in COLUMNS}
    problem = _text_problem(values, rules)
    if problem is not None:
        return RowError(line, problem)
    missing = [name for name in REQUIRED if not values[name]]
    if missing:
        return RowError(line, f"missing {', '.join(missing)}")
    submitted = parse_submitted_at(values["submitted_at"], rules)
    if isinstance(submitted, str):
        return RowError(line, submitted)
    audio = values["audio"]
    try:
        audio = (
            str(S3Uri.parse(audio)) if audio.startswith("s3://") else str(locate(audio, rules.base, rules.audio_root))
        )
    except (ValueError, OSError) as error:
        return RowError(line, str(error))
    return Submission(
        recording_id=values["recording_id"],
        learner_id=values["learner_id"],
        class_id=values["class_id"] or None,
        audio=audio,
        text=values["text"],
        submitted_at=submitted,
        line=line,
    )


def repeated_ids(rows: Iterable[NumberedRow]) -> tuple[dict[str, list[int]], int]:
    """Lines of each recording_id that appears on more than one row, and how many rows there
    are (counted in the same pass, so a manifest on disk is not read once more to count it)."""
    lines_of: dict[str, list[int]] = defaultdict(list)
    count = 0
    for line, raw in rows:
        count += 1
        if not isinstance(raw, RowError):
            recording_id = "" if raw.get("recording_id") is None else str(raw.get("recording_id")).strip()
            if recording_id:
                lines_of[recording_id].append(line)
    return {rid: lines for rid, lines in lines_of.items() if len(lines) > 1}, count


def validated(
    rows: Iterable[NumberedRow], rules: RowRules, repeated: Mapping[str, list[int]]
) -> Iterator[Submission | RowError]:
    """Each row as a `Submission` or the reason it is rejected, in manifest order."""
    for line, raw in rows:
        if isinstance(raw, RowError):
            yield raw
            continue
        parsed = validate_row(line, raw, rules)
        lines = repeated.get(parsed.recording_id) if isinstance(parsed, Submission) else None
        if lines:
            where = ", ".join(map(str, lines))
            yield RowError(line, f"recording_id {parsed.recording_id!r} appears more than once (lines {where})")
        else:
            yield parsed


_NOT_TEXT = {list: "an array", dict: "an object", bool: "a boolean"}


def _json_field_problem(row: Mapping[str, Any]) -> str | None:
    """A column holding a JSON array, object or boolean: no field is one (numbers are read as text)."""
    for name in COLUMNS:
        kind = _NOT_TEXT.get(type(row.get(name)))
        if kind is not None:
            return f"{name} is {kind}, not text"
    return None


def _decoded_lines(path: Path) -> Iterator[str]:
    """The file's lines as text; bytes that are not UTF-8 survive as lone surrogates, which
    validation rejects row by row."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle):
            line = raw.decode("utf-8", errors="surrogateescape")
            yield line.removeprefix("\ufeff") if number == 0 else line


class _LineFeed:
    """The manifest's lines for the csv reader, numbered, keeping the lines of the record being
    read: a record that ran over several lines (a quote left open) gives back all but its first
    line to be read again as rows of their own."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = enumerate(lines, start=1)
        self._again: deque[tuple[int, str]] = deque()
        self.taken: list[tuple[int, str]] = []
        self.ran_out = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        try:
            number, line = self._again.popleft() if self._again else next(self._lines)
        except StopIteration:
            self.ran_out = True
            raise
        self.taken.append((number, line))
        return line

    def next_record(self) -> None:
        self.taken = []
        self.ran_out = False

    def read_again(self, lines: list[tuple[int, str]]) -> None:
        self._again.extendleft(reversed(lines))


def _unclosed_quote(rest: list[tuple[int, str]], ran_out: bool) -> str:
    """Why a record that ran over `rest` (lines after its first), or to the end, is rejected."""
    if not rest:
        return "unclosed quote: the quoted field that opens on this line runs to the end of the file"
    first, last = rest[0][0], rest[-1][0]
    where = "to the end of the file" if ran_out else f"on to line {last}"
    if first == last:
        again = f"line {first} is read as a row of its own"
    else:
        again = f"lines {first}-{last} are read as rows of their own"
    return f"unclosed quote: the quoted field that opens on this line runs {where}; {again}"


class Manifest:
    """A CSV or JSON Lines manifest, read again from disk on every iteration (so a manifest of
    any size costs the memory of a row): (line number, raw row or why it is unreadable).

    A CSV field holds no line break: a record running over several lines is a quote left open,
    so its first line is rejected and the lines it ran over are read again as rows of their own
    (good rows after a stray quote still go in)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise ManifestError(f"manifest not found: {path}")
        self.path = path
        self.suffix = path.suffix.lower()
        if self.suffix not in {".csv", ".jsonl", ".ndjson", ".json"}:
            raise ManifestError(f"{path.name}: a manifest is .csv or .jsonl, not {self.suffix or 'extensionless'}")
        if self.suffix == ".csv":
            feed = _LineFeed(_decoded_lines(path))
            self._csv_header(csv.reader(feed), feed)  # a bad header fails now, not mid-way

    def __iter__(self) -> Iterator[NumberedRow]:
        return self._csv_rows() if self.suffix == ".csv" else self._jsonl_rows()

    def _csv_header(self, reader: Iterator[list[str]], feed: _LineFeed) -> list[str]:
        try:
            header = [name.strip() for name in next(reader, [])]
        except csv.Error as error:
            raise ManifestError(f"{self.path.name}: the header line is not CSV ({error})") from None
        if len(feed.taken) > 1 or feed.ran_out:
            raise ManifestError(f"{self.path.name}: the header line has an unclosed quote")
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise ManifestError(f"{self.path.name}: the header lacks the column(s) {', '.join(missing)}")
        return header

    def _csv_rows(self) -> Iterator[NumberedRow]:
        feed = _LineFeed(_decoded_lines(self.path))
        reader = csv.reader(feed)
        header = self._csv_header(reader, feed)
        while True:
            feed.next_record()
            problem = None
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                fields, problem = [], f"unreadable CSV ({error})"
            (line, _), *rest = feed.taken
            if rest or feed.ran_out:
                feed.read_again(rest)
                problem = _unclosed_quote(rest, feed.ran_out)
            if problem is not None:
                yield line, RowError(line, problem)
            elif fields:
                yield line, dict(zip(header, fields, strict=False))

    def _jsonl_rows(self) -> Iterator[NumberedRow]:
        with self.path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    yield (
                        number,
                        RowError(number, f"not UTF-8 text (byte {raw[error.start]:#04x} at column {error.start + 1})"),
                    )
                    continue
                if not text.strip():
                    continue
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as error:
                    yield number, RowError(number, f"not valid JSON ({error.msg})")
                    continue
                problem = "not a JSON object" if not isinstance(value, dict) else _json_field_problem(value)
                yield number, value if problem is None else RowError(number, problem)


def read_manifest(path: Path, settings: Settings | None = None) -> Validated:
    """Read and validate a whole manifest in memory (small files, tests); relative audio paths
    resolve against its folder. Enqueueing streams instead."""
    manifest = Manifest(path)
    rules = RowRules.from_settings(settings or get_settings(), path.parent)
    result = Validated()
    for item in validated(manifest, rules, repeated_ids(manifest)[0]):
        (result.errors if isinstance(item, RowError) else result.submissions).append(item)
    return result
