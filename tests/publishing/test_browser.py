"""The teacher's site in a real browser: Debian's Chromium driven by Playwright (never a browser
download). Pages load with no console error and no failed request, every chart has a point per
week the database has, words are coloured by their stored scores, the audio plays for the
recording's length, and text stays readable on a 360 px phone. Screenshots of each page land in
var/test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from db.session import get_engine
from publishing.content import slug
from tests.conftest import ROOT
from tests.publishing.conftest import CLASS, HOSTILE, MODEL, ClassSite

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "var" / "test-artifacts"
ASPECTS = ("accuracy", "fluency", "prosodic", "total")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (scripts/setup)")


class Watched:
    """A page whose console errors, uncaught exceptions and failed requests are collected."""

    def __init__(self, page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"failed request: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

    def open(self, path: Path) -> None:
        self.page.goto(path.as_uri(), wait_until="load")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def laptop(browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield Watched(context.new_page())
    context.close()


@pytest.fixture
def phone(browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True)
    yield Watched(context.new_page())
    context.close()


def _query(url: str, sql: str, **params: object) -> list:
    with get_engine(url).connect() as conn:
        return conn.execute(text(sql), params).all()


def _weeks(url: str, model: str, learner: str | None = None) -> int:
    """Weeks with a scored recording in the database, straight from the tables."""
    return _query(
        url,
        """SELECT count(DISTINCT date_trunc('week', r.submitted_at AT TIME ZONE 'UTC'))
           FROM assessments a JOIN recordings r ON r.id = a.recording_id
           JOIN learners l ON l.id = r.learner_id JOIN model_versions m ON m.id = a.model_version_id
           WHERE a.status = 'scored' AND m.name = :model AND r.class_id = :klass
             AND (CAST(:learner AS text) IS NULL OR l.external_id = :learner)""",
        model=model,
        klass=CLASS,
        learner=learner,
    )[0][0]


def _learner_page(site: ClassSite, learner: str) -> Path:
    return site.site.folder / "learners" / f"{slug(learner)}.html"


def _screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / name, full_page=True)


def test_class_page_loads_cleanly_with_a_point_per_week(class_site: ClassSite, laptop: Watched) -> None:
    laptop.open(class_site.site.folder / "index.html")
    page, url = laptop.page, class_site.database_url
    _screenshot(page, "site-class.png")
    assert laptop.problems == []
    assert page.locator("h1").inner_text() == f"Class {CLASS}"
    for learner in ("amir", "bea", HOSTILE):
        points = page.locator(f'g[id="trend-{slug(learner)}"] use').count()
        assert points == _weeks(url, MODEL, learner), learner
    for aspect in ASPECTS:
        for key, model in (("model", MODEL), ("compared", "human:expert")):
            points = page.locator(f'g[id="class-{slug(CLASS)}-{aspect}-{key}"] use').count()
            assert points == _weeks(url, model), (aspect, model)
    assert page.get_by_text("Nothing can be heard in the recording").is_visible()


def test_learner_page_words_audio_and_charts(class_site: ClassSite, laptop: Watched) -> None:
    laptop.open(_learner_page(class_site, "amir"))
    page, url = laptop.page, class_site.database_url
    assert laptop.problems == []
    for aspect in ASPECTS:
        points = page.locator(f'g[id="learner-{slug("amir")}-{aspect}-model"] use').count()
        assert points == _weeks(url, MODEL, "amir") == 3
    stored = {
        (recording, index): (accuracy, error)
        for recording, index, accuracy, error in _query(
            url,
            """SELECT r.source_id, w.word_index, w.accuracy, w.error_type FROM word_scores w
               JOIN assessments a ON a.id = w.assessment_id JOIN recordings r ON r.id = a.recording_id""",
        )
    }
    shown = page.eval_on_selector_all(
        "article.recording .sentence .word",
        """els => els.map(e => [e.closest('article').dataset.recordingId, Number(e.dataset.wordIndex),
                               e.dataset.mark, getComputedStyle(e).backgroundColor])""",
    )
    assert len(shown) > 10
    colours: dict[str, set[str]] = {}
    for recording, index, mark, colour in shown:
        accuracy, error = stored[(recording, index)]
        good = accuracy >= 8 and error != "Mispronunciation"
        expected = "missed" if error == "Omission" else "good" if good else "fair" if accuracy >= 5 else "poor"
        assert mark == expected, (recording, index, accuracy, error)
        colours.setdefault(mark, set()).add(colour)
    assert all(len(c) == 1 for c in colours.values()) and len(set().union(*colours.values())) == len(colours)
    audio = page.locator("article.recording audio").first
    recording = audio.evaluate("a => a.closest('article').dataset.recordingId")
    audio.evaluate("a => a.readyState >= 1 || new Promise(r => a.addEventListener('loadedmetadata', r))")
    duration = audio.evaluate("a => a.duration")
    (stored_duration,) = _query(url, "SELECT duration_seconds FROM recordings WHERE source_id = :id", id=recording)[0]
    assert duration == pytest.approx(stored_duration, abs=0.1)
    page.locator("details.phones summary").first.click()
    assert page.locator("details.phones table").first.is_visible()
    _screenshot(page, "site-learner.png")


def test_a_hostile_learner_id_stays_text(class_site: ClassSite, laptop: Watched) -> None:
    laptop.open(_learner_page(class_site, HOSTILE))
    assert laptop.problems == []
    assert laptop.page.evaluate("window.__xss") is None
    assert laptop.page.locator("h1 .learner-id").inner_text() == HOSTILE


def test_a_recording_known_only_from_ratings_has_no_player(class_site: ClassSite, laptop: Watched) -> None:
    laptop.open(_learner_page(class_site, "bea"))
    assert laptop.problems == []
    rated = laptop.page.locator('article[data-recording-id="bea-rated"]')
    assert rated.locator("audio").count() == 0
    assert "known only from imported ratings" in rated.inner_text()


@pytest.mark.parametrize("which", ["class", "learner"])
def test_text_stays_readable_on_a_360_px_phone(class_site: ClassSite, phone: Watched, which: str) -> None:
    path = class_site.site.folder / "index.html" if which == "class" else _learner_page(class_site, "amir")
    phone.open(path)
    page = phone.page
    assert phone.problems == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, "the page scrolls sideways"
    smallest = page.evaluate(
        """() => Math.min(...[...document.querySelectorAll('main p, main td, main li, main h1, main h2')]
              .filter(e => e.offsetParent !== null && e.innerText.trim())
              .map(e => parseFloat(getComputedStyle(e).fontSize)))"""
    )
    assert smallest >= 12
    _screenshot(page, f"site-{which}-phone.png")
