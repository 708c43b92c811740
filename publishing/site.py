"""Writing the site: Jinja2 templates (autoescaped: learner ids and sentences come from
manifests), inline SVG charts, the recordings' audio, and a folder replaced whole, so a web
server or file share never serves half a build.

Layout: for one class, `index.html` is the class page and `learners/` its learners' pages; for
every class, `index.html` lists the classes and each has `classes/SLUG/` laid out the same way.
Every page links only to files of the site, by relative paths, so the folder works anywhere.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from sqlalchemy.orm import Session

from pronscore.plots import Series, WeeklyCharts, weekly_means
from pronscore.storage import AudioStore
from publishing.audio import AudioSource, embed_audio
from publishing.content import ClassContent, Learner, SiteContent, SiteError, SiteRequest, read_site
from publishing.wording import (
    ERROR_TYPE_WORDS,
    STANDING_RULE,
    WORD_MARK_LABELS,
    Standing,
    WordMark,
)
from scoring.scores import SCORE_ASPECTS

MARKER = ".pronscore-site"
STANDING_ORDER = {Standing.needs_help: 0, Standing.improved: 1, Standing.steady: 2, Standing.unscored: 3}


@dataclass(frozen=True)
class BuiltSite:
    folder: Path
    classes: int
    learners: int
    audio_files: int


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("publishing", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["score"] = _score
    env.filters["signed"] = _signed
    env.globals.update(
        aspects=SCORE_ASPECTS,
        word_marks=WORD_MARK_LABELS,
        WordMark=WordMark,
        error_words=ERROR_TYPE_WORDS,
        standing_rule=STANDING_RULE,
    )
    return env


def _score(value: Any) -> str:
    return "–" if value is None else f"{float(value):.1f}"


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f}"


def _series(key: str, rows: list[dict[str, Any]], dashed: bool) -> Series:
    points = {
        aspect: {row["week"]: (float(row[aspect]), row["recordings"]) for row in rows} for aspect in SCORE_ASPECTS
    }
    return Series(key, points, dashed)


def _class_series(content: SiteContent, klass: ClassContent) -> list[Series]:
    """The class's weekly means per version (recording-weighted), the compared one apart."""
    series = []
    for key, attribute, dashed in (("model", "weeks", False), ("compared", "compared_weeks", True)):
        rows = [row for learner in klass.learners for row in getattr(learner, attribute).values()]
        if not rows:
            continue
        means = weekly_means(rows)
        points = {a: {week: (mean.scores[a], mean.recordings) for week, mean in means.items()} for a in SCORE_ASPECTS}
        series.append(Series(key, points, dashed))
    return series


def _learner_series(content: SiteContent, learner: Learner) -> list[Series]:
    series = [_series("model", list(learner.weeks.values()), dashed=False)]
    if content.compared is not None and learner.compared_weeks:
        series.append(_series("compared", list(learner.compared_weeks.values()), dashed=True))
    return series


def _charts(charts: WeeklyCharts, uid: str, series: list[Series]) -> dict[str, Markup]:
    """A chart per score, as inline SVG (matplotlib's own markup); none without a scored week."""
    if not any(line.points["total"] for line in series):
        return {}
    return {aspect: Markup(charts.score_svg(uid, aspect, series)) for aspect in SCORE_ASPECTS}


def _prepare_output(out: Path) -> Path | None:
    """Refuse a folder that is not empty and not a previous build; return the previous build."""
    if not out.exists():
        return None
    if not out.is_dir():
        raise SiteError(f"--out {out} is a file, not a folder")
    if (out / MARKER).is_file():
        return out
    if any(out.iterdir()):
        raise SiteError(f"--out {out} is a folder with other files in it; give a new or empty folder")
    return None


def _replace(staging: Path, out: Path) -> None:
    """Put the new build where the old one was, with one rename each way."""
    if out.exists():
        retired = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(retired)
        staging.rename(out)
        shutil.rmtree(retired)
    else:
        staging.rename(out)


def build_site(session: Session, store: AudioStore | None, request: SiteRequest, out: Path) -> BuiltSite:
    """Build the site for the classes asked for into `out` (created, or replaced if it holds a
    previous build). Without a store the pages carry no audio."""
    content = read_site(session, request)
    previous = _prepare_output(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        audio_files = _embed(content, store, staging, previous)
        _write_pages(content, staging, audio=store is not None)
        (staging / MARKER).write_text(
            json.dumps({"built_at": datetime.now(UTC).isoformat(), "model": content.model.name}) + "\n"
        )
        _replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    learners = sum(len(klass.learners) for klass in content.classes)
    return BuiltSite(out, len(content.classes), learners, audio_files)


def _embed(content: SiteContent, store: AudioStore | None, staging: Path, previous: Path | None) -> int:
    """Embed the audio of each learner's recent recordings; returns the number of files."""
    if store is None:
        return 0
    recent = [
        recording
        for klass in content.classes
        for learner in klass.learners
        for recording in learner.recordings[: content.request.recent]
        if recording.audio_uri is not None and recording.status != "failed"
    ]
    written = embed_audio(store, [AudioSource(r.audio_uri, r.audio_sha256) for r in recent], staging, previous)
    for recording in recent:
        source = AudioSource(recording.audio_uri, recording.audio_sha256)
        recording.audio = source.file_name if source in written else None
    return len(written)


def _write_pages(content: SiteContent, staging: Path, audio: bool) -> None:
    env = environment()
    built = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    common = {
        "model": content.model,
        "compared": content.compared,
        "request": content.request,
        "built": built,
        "audio": audio,
    }
    shutil.copyfile(Path(__file__).with_name("static") / "style.css", staging / "style.css")
    single = len(content.classes) == 1 and len(content.request.classes) == 1
    if not single:
        (staging / "index.html").write_text(
            env.get_template("index.html").render(common, root="", classes=content.classes), encoding="utf-8"
        )
    for klass in content.classes:
        folder = staging if single else staging / "classes" / klass.slug
        (folder / "learners").mkdir(parents=True, exist_ok=True)
        with WeeklyCharts(klass.weeks, SCORE_ASPECTS) as charts:
            _write_class(env, common, content, klass, folder, "" if single else "../../", charts)


def _write_class(
    env: Environment,
    common: dict[str, Any],
    content: SiteContent,
    klass: ClassContent,
    folder: Path,
    root: str,
    charts: WeeklyCharts,
) -> None:
    """The class page and its learners' pages, under `folder`."""
    learners = sorted(klass.learners, key=lambda learner: (STANDING_ORDER[learner.standing], learner.learner_id))
    trends = {
        learner.learner_id: Markup(
            charts.trend_svg(
                f"trend-{learner.slug}", {week: float(row["total"]) for week, row in learner.weeks.items()}
            )
        )
        for learner in learners
    }
    (folder / "index.html").write_text(
        env.get_template("class.html").render(
            common,
            root=root,
            klass=klass,
            learners=learners,
            sparklines=trends,
            charts=_charts(charts, f"class-{klass.slug}", _class_series(content, klass)),
            all_classes=root != "",
        ),
        encoding="utf-8",
    )
    for learner in learners:
        (folder / "learners" / f"{learner.slug}.html").write_text(
            env.get_template("learner.html").render(
                common,
                root=root + "../",
                klass=klass,
                learner=learner,
                charts=_charts(charts, f"learner-{learner.slug}", _learner_series(content, learner)),
            ),
            encoding="utf-8",
        )
