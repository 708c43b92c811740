"""The built site as files: self-contained (every link a file of the site, nothing fetched from
elsewhere), manifest strings escaped, audio embedded as MP3 of each recording's length, a
previous build replaced whole and a folder of other files never touched."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
import soundfile
from sqlalchemy import text

from db.session import get_engine, session_scope
from db.upserts import upsert_model_version
from publishing.content import SiteError, slug
from publishing.site import MARKER
from scoring.failures import FailureReason
from tests.factories import add_assessment, scored
from tests.pipeline import S3Server
from tests.publishing.conftest import CLASS, HOSTILE, MODEL, ClassSite, build, store_for


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        self.links += [value for name, value in attrs if name in ("href", "src") and value]


def _pages(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.html"))


def test_every_link_is_a_file_of_the_site_and_no_page_runs_a_script(class_site: ClassSite) -> None:
    folder = class_site.site.folder
    assert len(_pages(folder)) == 1 + 3, "the class page and one page per learner"
    for page in _pages(folder):
        parser = Links()
        parser.feed(page.read_text())
        assert parser.scripts == 0
        for link in parser.links:
            if link.startswith("data:"):
                continue
            assert "://" not in link and not link.startswith("/"), (page, link)
            assert (page.parent / link).resolve().is_file(), (page, link)
    assert "url(" not in (folder / "style.css").read_text() and "@import" not in (folder / "style.css").read_text()


def test_manifest_strings_are_escaped(class_site: ClassSite) -> None:
    page = (class_site.site.folder / "learners" / f"{slug(HOSTILE)}.html").read_text()
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page
    assert "<script>" not in page
    assert "<script>" not in (class_site.site.folder / "index.html").read_text()


def test_audio_is_embedded_as_mp3_of_each_recordings_length(class_site: ClassSite) -> None:
    with get_engine(class_site.database_url).connect() as conn:
        durations = dict(conn.execute(text("SELECT substr(sha256, 1, 32), duration_seconds FROM recordings")).all())
    files = sorted((class_site.site.folder / "audio").iterdir())
    assert len(files) == class_site.site.audio_files == 16, "every scored recording, not the ratings-only one"
    for path in files:
        info = soundfile.info(path)
        assert info.format == "MP3"
        assert info.duration == pytest.approx(durations[path.stem], abs=0.1)


def test_failed_recordings_are_explained_in_plain_words(class_site: ClassSite) -> None:
    page = (class_site.site.folder / "index.html").read_text()
    assert FailureReason.audio_silent.for_teacher in page
    assert "audio_silent" not in page


def test_a_rebuild_replaces_the_previous_build_and_reuses_its_audio(
    class_site: ClassSite, s3_server: S3Server, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    first = build(class_site.database_url, class_site.store, out)
    (out / "learners" / "stale.html").write_text("from an old build")
    empty_bucket = store_for(s3_server)  # holds none of the recordings: only the previous build has them
    second = build(class_site.database_url, empty_bucket, out)
    assert (second.folder, second.audio_files) == (first.folder, first.audio_files) == (out, 16)
    assert not (out / "learners" / "stale.html").exists()
    assert (out / MARKER).is_file()
    assert not list(tmp_path.glob(".site.*")), "no staging or retired folder is left behind"


def test_a_folder_of_other_files_is_refused_and_left_alone(class_site: ClassSite, tmp_path: Path) -> None:
    (tmp_path / "homework.txt").write_text("keep me")
    with pytest.raises(SiteError, match="other files"):
        build(class_site.database_url, None, tmp_path)
    assert (tmp_path / "homework.txt").read_text() == "keep me"


def test_unknown_class_and_model_are_named(class_site: ClassSite, tmp_path: Path) -> None:
    with pytest.raises(SiteError, match="no recordings in class 'class-z'"):
        build(class_site.database_url, None, tmp_path / "a", classes=("class-z",))
    with pytest.raises(SiteError, match="--model names no model version in the database: 'gop-nope'"):
        build(class_site.database_url, None, tmp_path / "b", model="gop-nope")


def test_scores_of_the_tiny_test_checkpoint_are_called_meaningless(class_site: ClassSite, tmp_path: Path) -> None:
    with session_scope(class_site.database_url) as session:
        upsert_model_version(session, "phi4mm-tiny", meaningless=True)
        recording = session.execute(text("SELECT id FROM recordings WHERE source_id = 'amir-w0-0'")).scalar_one()
        add_assessment(session, recording, "phi4mm-tiny", scored((1, 1, 1, 1)))
    site = build(class_site.database_url, None, tmp_path / "tiny", model="phi4mm-tiny")
    page = (site.folder / "index.html").read_text()
    assert "tiny test checkpoint" in page and "mean nothing" in page
    assert CLASS in page


class Markers(HTMLParser):
    """How many chart markers (`<use>`) each SVG group with an id holds."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str | None] = []
        self.counts: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "g":
            self.open.append(dict(attrs).get("id"))
        elif tag == "use":
            for group in filter(None, self.open):
                self.counts[group] = self.counts.get(group, 0) + 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "use":
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "g":
            self.open.pop()


def test_since_leaves_out_the_weeks_before_it(class_site: ClassSite, tmp_path: Path) -> None:
    site = build(class_site.database_url, None, tmp_path / "since", since=date(2026, 9, 14), model=MODEL)
    markers = Markers()
    markers.feed((site.folder / "learners" / f"{slug('amir')}.html").read_text())
    assert markers.counts[f"learner-{slug('amir')}-total-model"] == 2, "weeks of 14 and 21 Sep only"
    assert "7 Sep" not in (site.folder / "index.html").read_text()
