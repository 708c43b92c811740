"""What the pages show, read from the named reports (`db/reports/catalog.py`) in one pass for
every class asked for, and grouped per class and learner."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from db.reports import ReportFilters, newest_model, run_report
from publishing.wording import ModelCaveat, Standing, WordMark, failure_words, standing, word_mark
from scoring.scores import SCORE_ASPECTS

NO_CLASS = "(no class)"


class SiteError(ValueError):
    """A site that cannot be built as asked: an unknown class or model version, nothing assessed."""


@dataclass(frozen=True)
class SiteRequest:
    """Which classes (none named: every class), from which week, which model version's scores
    (default: the newest machine model's), which version beside it, and how many of each
    learner's latest recordings get feedback and audio."""

    classes: tuple[str, ...] = ()
    since: date | None = None
    model: str | None = None
    compare: str | None = None
    recent: int = 10


def slug(text: str) -> str:
    """A file name for a learner or class id: its safe characters and a hash of the whole id, so
    that ids differing only in other characters stay apart."""
    readable = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{readable}-{digest}" if readable else digest


@dataclass
class Word:
    index: int
    text: str
    accuracy: float | None
    error_type: str | None
    errors: int
    marked_errors: str
    ops: list[dict[str, Any]]

    @property
    def mark(self) -> WordMark:
        return word_mark(self.accuracy, self.error_type, self.errors)


@dataclass
class Recording:
    recording_id: str
    learner_id: str
    submitted_at: datetime
    text: str
    status: str
    reason: str | None
    duration_seconds: float | None
    audio_uri: str | None
    audio_sha256: str
    scores: dict[str, int | None] | None = None
    compared_scores: dict[str, int | None] | None = None
    words: list[Word] = field(default_factory=list)
    audio: str | None = None  # the embedded file, relative to the site's root

    @property
    def failure(self) -> str | None:
        return failure_words(self.reason) if self.status == "failed" else None


# The columns of the `recordings` report a `Recording` is made of.
RECORDING_FIELDS = (
    "recording_id", "learner_id", "submitted_at", "text", "status", "reason", "duration_seconds", "audio_uri",
    "audio_sha256",
)  # fmt: skip


@dataclass
class Learner:
    learner_id: str
    slug: str
    weeks: dict[date, dict[str, Any]] = field(default_factory=dict)  # weeks with recordings
    compared_weeks: dict[date, dict[str, Any]] = field(default_factory=dict)
    words: list[dict[str, Any]] = field(default_factory=list)
    recordings: list[Recording] = field(default_factory=list)

    @property
    def latest(self) -> dict[str, Any] | None:
        return self.weeks[max(self.weeks)] if self.weeks else None

    def _window(self, latest: bool) -> tuple[float, int]:
        """The recording-weighted mean total of the first or the latest weeks with recordings:
        two weeks each once there are four, so one odd recording does not decide a standing."""
        weeks = sorted(self.weeks)
        size = max(1, min(2, len(weeks) // 2))
        rows = [self.weeks[w] for w in (weeks[-size:] if latest else weeks[:size])]
        n = sum(row["recordings"] for row in rows)
        return sum(_number(row["total"]) * row["recordings"] for row in rows) / n, n

    @property
    def recent(self) -> tuple[float, int] | None:
        """The mean total of the latest weeks, and how many recordings it averages."""
        return self._window(latest=True) if self.weeks else None

    @property
    def change(self) -> float | None:
        """From the first weeks with recordings to the latest (see `_window`)."""
        if len(self.weeks) < 2:
            return None
        return round(self._window(latest=True)[0] - self._window(latest=False)[0], 2)

    @property
    def standing(self) -> Standing:
        recent = self.recent
        return standing(recent[0] if recent else None, self.change)

    @property
    def scored_recordings(self) -> int:
        return sum(row["recordings"] for row in self.weeks.values())


@dataclass
class ClassContent:
    class_id: str
    slug: str
    learners: list[Learner] = field(default_factory=list)
    weeks: list[date] = field(default_factory=list)  # the x axis of every chart of the class
    weak_words: list[dict[str, Any]] = field(default_factory=list)
    weak_phones: list[dict[str, Any]] = field(default_factory=list)
    waiting: int = 0

    @property
    def failed(self) -> list[Recording]:
        failed = [r for learner in self.learners for r in learner.recordings if r.status == "failed"]
        return sorted(failed, key=lambda r: r.submitted_at, reverse=True)


@dataclass
class SiteContent:
    model: ModelCaveat
    compared: ModelCaveat | None
    request: SiteRequest
    classes: list[ClassContent]


def _number(value: Any) -> float:
    return float(value) if isinstance(value, Decimal | int | float) else float("nan")


def _class_key(class_id: str | None) -> str:
    return class_id if class_id is not None else NO_CLASS


def _caveat(models: dict[str, dict[str, Any]], name: str, flag: str) -> ModelCaveat:
    row = models.get(name)
    if row is None:
        known = ", ".join(models) or "none yet"
        raise SiteError(f"{flag} names no model version in the database: {name!r} (known: {known})")
    return ModelCaveat(row["model"], row["engine"], row["meaningless"])


def read_site(session: Session, request: SiteRequest) -> SiteContent:
    """Everything the pages of the classes asked for show, from the report views."""
    models = {row["model"]: row for row in run_report(session, "models", ReportFilters()).rows}
    chosen = request.model or newest_model(session)
    if chosen is None:
        raise SiteError("nothing has been assessed yet, so there is no report to build")
    model = _caveat(models, chosen, "--model")
    compared = _caveat(models, request.compare, "--compare") if request.compare else None
    if compared is not None and compared.name == model.name:
        raise SiteError(f"--compare names the model the site already shows ({model.name})")
    one_class = request.classes[0] if len(request.classes) == 1 else None
    base = ReportFilters(class_id=one_class, since=request.since, model=model.name)

    recordings = [
        row
        for row in run_report(session, "recordings", replace(base, model=None)).rows
        if not request.classes or row["class_id"] in request.classes
    ]
    found = {row["class_id"] for row in recordings}
    missing = [name for name in request.classes if name not in found]
    if missing:
        since = f" since {request.since}" if request.since else ""
        raise SiteError(f"no recordings{since} in class {', '.join(map(repr, missing))}")
    classes: dict[str, ClassContent] = {}
    learners: dict[str, Learner] = {}
    for row in recordings:
        key = _class_key(row["class_id"])
        content = classes.setdefault(key, ClassContent(key, slug(key)))
        learner = learners.get(row["learner_id"])
        if learner is None:
            learner = learners[row["learner_id"]] = Learner(row["learner_id"], slug(row["learner_id"]))
            content.learners.append(learner)
        content.waiting += row["status"] in ("queued", "scoring") and row["audio_uri"] is not None
        fields = {name: row[name] for name in RECORDING_FIELDS}
        learner.recordings.append(Recording(**fields))
    _add_progress(session, base, learners, classes, compared)
    _add_words(session, base, learners, classes)
    _add_feedback(session, base, learners, compared)
    for content in classes.values():
        content.learners.sort(key=lambda learner: learner.learner_id)
    return SiteContent(model, compared, request, sorted(classes.values(), key=lambda c: c.class_id))


def _add_progress(
    session: Session,
    base: ReportFilters,
    learners: dict[str, Learner],
    classes: dict[str, ClassContent],
    compared: ModelCaveat | None,
) -> None:
    versions = [(base.model, "weeks")] + ([(compared.name, "compared_weeks")] if compared else [])
    weeks: dict[str, set[date]] = defaultdict(set)
    for model, attribute in versions:
        for row in run_report(session, "learner-progress", replace(base, model=model)).rows:
            learner = learners.get(row["learner_id"])
            if learner is None or not row["recordings"]:
                continue
            getattr(learner, attribute)[row["week"]] = row
            weeks[_class_key(row["class_id"])].add(row["week"])
    for key, content in classes.items():
        content.weeks = _calendar(weeks[key])


def _calendar(weeks: set[date]) -> list[date]:
    """Every week from the first to the last with recordings, so gaps show as gaps."""
    if not weeks:
        return []
    first, last = min(weeks), max(weeks)
    return [date.fromordinal(day) for day in range(first.toordinal(), last.toordinal() + 1, 7)]


def _add_words(
    session: Session, base: ReportFilters, learners: dict[str, Learner], classes: dict[str, ClassContent]
) -> None:
    for row in run_report(session, "learner-words", replace(base, top=5)).rows:
        if row["learner_id"] in learners:
            learners[row["learner_id"]].words.append(row)
    for row in run_report(session, "class-weak-words", base).rows:
        if (content := classes.get(_class_key(row["class_id"]))) is not None:
            content.weak_words.append(row)
    for row in run_report(session, "class-weak-phones", base).rows:
        if (content := classes.get(_class_key(row["class_id"]))) is not None:
            content.weak_phones.append(row)


def _add_feedback(
    session: Session, base: ReportFilters, learners: dict[str, Learner], compared: ModelCaveat | None
) -> None:
    by_id = {r.recording_id: r for learner in learners.values() for r in learner.recordings}
    scores = {(row["recording_id"], row["word_index"]): row for row in run_report(session, "word-scores", base).rows}
    for row in run_report(session, "recording-feedback", base).rows:
        recording = by_id.get(row["recording_id"])
        if recording is None:
            continue
        if recording.scores is None:
            recording.scores = {aspect: row[aspect] for aspect in SCORE_ASPECTS}
        if row["word_index"] is not None:
            score = scores.get((row["recording_id"], row["word_index"]), {})
            accuracy = score.get("accuracy")
            recording.words.append(
                Word(
                    index=row["word_index"],
                    text=row["word"],
                    accuracy=None if accuracy is None else float(accuracy),
                    error_type=score.get("error_type"),
                    errors=row["errors"],
                    marked_errors=row["marked_errors"] or "",
                    ops=row["ops"],
                )
            )
    if compared is None:
        return
    for row in run_report(session, "recording-feedback", replace(base, model=compared.name)).rows:
        recording = by_id.get(row["recording_id"])
        if recording is not None and recording.compared_scores is None:
            recording.compared_scores = {aspect: row[aspect] for aspect in SCORE_ASPECTS}
