import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producer.manifest import ManifestError, read_manifest
from pronscore.settings import Settings
from tests.conftest import sample_wav

HEADER = "recording_id,learner_id,class_id,audio,text,submitted_at\n"


def _csv(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "night.csv"
    path.write_text(header + body)
    return path


def test_good_rows_resolve_relative_paths_and_zones(tmp_path: Path) -> None:
    wav, text = sample_wav(0)
    (tmp_path / "a.wav").write_bytes(wav.read_bytes())
    result = read_manifest(_csv(tmp_path, f"r1,kim,4a,a.wav,{text},2026-09-07T09:00:00\n"))
    assert result.errors == []
    (row,) = result.submissions
    assert row.audio == str((tmp_path / "a.wav").resolve())
    assert row.submitted_at.tzinfo is not None and row.line == 2


def test_missing_columns_name_the_columns(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="lacks the column\\(s\\) text, submitted_at"):
        read_manifest(_csv(tmp_path, "r1,kim,4a,a.wav\n", header="recording_id,learner_id,class_id,audio\n"))


def test_bad_rows_are_named_by_line_and_good_rows_kept(tmp_path: Path) -> None:
    wav, text = sample_wav(0)
    body = (
        f"r1,kim,4a,{wav},{text},2026-09-07T09:00:00Z\n"
        f"r2,kim,4a,{wav},{text},last tuesday\n"
        f"r3,lee,4a,/nowhere/x.wav,{text},2026-09-07\n"
        f"r4,lee,4a,{wav},,2026-09-07\n"
        f"r5,lee,4a,{wav},{text},2026-09-08\n"
        f"r5,lee,4a,{wav},{text},2026-09-09\n"
    )
    result = read_manifest(_csv(tmp_path, body))
    assert [s.recording_id for s in result.submissions] == ["r1"]
    assert [(e.line, e.reason) for e in result.errors] == [
        (3, "submitted_at 'last tuesday' is not an ISO 8601 date-time"),
        (4, "audio file not found: /nowhere/x.wav"),
        (5, "missing text"),
        (6, "recording_id 'r5' appears more than once (lines 6, 7)"),
        (7, "recording_id 'r5' appears more than once (lines 6, 7)"),
    ]


def test_jsonl_lines_are_numbered_and_unreadable_lines_named(tmp_path: Path) -> None:
    wav, text = sample_wav(0)
    path = tmp_path / "night.jsonl"
    good = json.dumps(
        {"recording_id": "r1", "learner_id": "kim", "audio": str(wav), "text": text, "submitted_at": "2026-09-07"}
    )
    path.write_text(f"{good}\n{{broken\n[1, 2]\n")
    result = read_manifest(path)
    assert [s.recording_id for s in result.submissions] == ["r1"]
    assert [e.line for e in result.errors] == [2, 3]
    assert result.errors[0].reason.startswith("not valid JSON")


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not found"):
        read_manifest(tmp_path / "none.csv")
    (tmp_path / "night.xlsx").write_text("x")
    with pytest.raises(ManifestError, match=r"\.csv or \.jsonl"):
        read_manifest(tmp_path / "night.xlsx")


def _rules(**changes: object) -> Settings:
    return Settings().model_copy(update=changes)


def _line(recording_id: str, wav: Path, text: str, when: str = "2026-09-07") -> str:
    return f"{recording_id},kim,4a,{wav},{text},{when}\n"


def test_each_unreadable_row_is_rejected_alone_with_its_line(tmp_path: Path) -> None:
    wav, text = sample_wav(0)
    path = tmp_path / "night.csv"
    path.write_bytes(
        (HEADER + _line("r1", wav, text)).encode()
        + _line("r2", wav, "caf\xe9", "2026-09-07").encode("latin-1")  # not UTF-8
        + _line("r3", wav, "NUL\x00IN TEXT").encode()
        + _line("x" * 10_000, wav, text).encode()
        + _line("r5", wav, "y" * 140_000).encode()  # over the csv module's field limit
        + _line("r6", wav, "z" * 1_001).encode()
        + _line("r7", wav, text).encode()
    )
    result = read_manifest(path)
    assert [s.recording_id for s in result.submissions] == ["r1", "r7"]
    assert [(e.line, e.reason) for e in result.errors] == [
        (3, "text is not UTF-8 text"),
        (4, "text contains a NUL character"),
        (5, "recording_id is 10000 characters long; the limit is 200 (PRONSCORE_MAX_ID_LENGTH)"),
        (6, "unreadable CSV (field larger than field limit (131072))"),
        (7, "text is 1001 characters long; the limit is 1000 (PRONSCORE_MAX_TEXT_LENGTH)"),
    ]


def test_jsonl_lines_that_are_not_utf8_are_rejected_alone(tmp_path: Path) -> None:
    wav, text = sample_wav(0)
    good = {"recording_id": "r1", "learner_id": "kim", "audio": str(wav), "text": text, "submitted_at": "2026-09-07"}
    path = tmp_path / "night.jsonl"
    path.write_bytes(
        json.dumps(good).encode()
        + b"\n"
        + b'{"recording_id": "r2", "text": "caf\xe9"}\n'
        + json.dumps({**good, "recording_id": "r3", "text": "a\u0000b"}).encode()
        + b"\n"
    )
    result = read_manifest(path)
    assert [s.recording_id for s in result.submissions] == ["r1"]
    assert [(e.line, e.reason) for e in result.errors] == [
        (2, "not UTF-8 text (byte 0xe9 at column 36)"),
        (3, "text contains a NUL character"),
    ]


def test_dates_outside_the_accepted_range_are_rejected(tmp_path: Path) -> None:
    wav, text = sample_wav(0)
    soon = (datetime.now(UTC) + timedelta(hours=47)).isoformat()
    later = (datetime.now(UTC) + timedelta(hours=49)).isoformat()
    body = (
        _line("r1", wav, text, "0001-01-01")
        + _line("r2", wav, text, "9999-12-31T23:59:59")
        + _line("r3", wav, text, "1999-12-31T23:59:59Z")
        + _line("r4", wav, text, "2000-01-01")
        + _line("r5", wav, text, soon)
        + _line("r6", wav, text, later)
    )
    result = read_manifest(_csv(tmp_path, body))
    assert [s.recording_id for s in result.submissions] == ["r4", "r5"]
    reasons = {e.line: e.reason for e in result.errors}
    assert reasons[2] == "submitted_at '0001-01-01' is before 2000-01-01 (PRONSCORE_EARLIEST_SUBMITTED_AT)"
    assert "is more than 48 h ahead (PRONSCORE_SUBMITTED_AT_MAX_AHEAD_HOURS)" in reasons[3]
    assert "before 2000-01-01" in reasons[4]
    assert "more than 48 h ahead" in reasons[7]


def test_audio_root_confines_local_paths_after_resolving_links_and_dots(tmp_path: Path) -> None:
    wav, text = sample_wav(0)
    root = tmp_path / "uploads"
    (root / "school").mkdir(parents=True)
    (root / "school" / "a.wav").write_bytes(wav.read_bytes())
    (root / "school" / "link.wav").symlink_to("/etc/passwd")
    manifest = root / "school" / "night.csv"
    manifest.write_text(
        HEADER
        + _line("r1", Path("a.wav"), text)
        + _line("r2", Path("/etc/passwd"), text)
        + _line("r3", Path("../../../../../../../../etc/passwd"), text)
        + _line("r4", Path("link.wav"), text)
        + _line("r5", Path("/proc/self/environ"), text)
        + _line("r6", Path("../school/./a.wav"), text)  # dots that stay inside are fine
    )
    result = read_manifest(manifest, _rules(audio_root=root))
    assert [s.recording_id for s in result.submissions] == ["r1", "r6"]
    assert [(e.line, e.reason) for e in result.errors] == [
        (3, f"audio /etc/passwd lies outside PRONSCORE_AUDIO_ROOT ({root})"),
        (4, f"audio ../../../../../../../../etc/passwd lies outside PRONSCORE_AUDIO_ROOT ({root})"),
        (5, f"audio link.wav lies outside PRONSCORE_AUDIO_ROOT ({root})"),
        (6, f"audio /proc/self/environ lies outside PRONSCORE_AUDIO_ROOT ({root})"),
    ]


def test_an_unclosed_quote_rejects_its_row_and_the_rows_it_ran_over_are_read_alone(tmp_path: Path) -> None:
    wav, text = sample_wav(0)
    body = (
        _line("r1", wav, text)
        + f'r2,kim,4a,{wav},"{text},2026-09-07\n'  # the quote never closes
        + _line("r3", wav, text)
        + _line("r4", wav, text)
    )
    result = read_manifest(_csv(tmp_path, body))
    assert [s.recording_id for s in result.submissions] == ["r1", "r3", "r4"]
    assert [(e.line, e.reason) for e in result.errors] == [
        (3, "unclosed quote: the quoted field that opens on this line runs to the end of the file; "
            "lines 4-5 are read as rows of their own"),
    ]  # fmt: skip


def test_a_quote_closed_on_a_later_line_rejects_only_the_line_that_opened_it(tmp_path: Path) -> None:
    wav, text = sample_wav(0)
    body = (
        f'r1,kim,4a,{wav},"{text},2026-09-07\n'
        + f'r2,kim,4a,{wav},"{text}",2026-09-07\n'  # its first quote closes r1's
        + _line("r3", wav, text)
    )
    result = read_manifest(_csv(tmp_path, body))
    assert [s.recording_id for s in result.submissions] == ["r2", "r3"]
    assert [(e.line, e.reason) for e in result.errors] == [
        (2, "unclosed quote: the quoted field that opens on this line runs on to line 3; "
            "line 3 is read as a row of its own"),
    ]  # fmt: skip


def test_a_header_with_an_unclosed_quote_is_refused(tmp_path: Path) -> None:
    wav, text = sample_wav(0)
    with pytest.raises(ManifestError, match="the header line has an unclosed quote"):
        read_manifest(_csv(tmp_path, _line("r1", wav, text), header='recording_id,"learner_id,class_id\n'))


_WORDS = st.lists(st.sampled_from(["WE", "CALL", "IT", "BEAR", "HELLO", "THREE"]), min_size=1, max_size=4)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(_WORDS.map(" ".join), min_size=1, max_size=6), bad=st.data())
def test_a_stray_quote_costs_only_the_row_it_opens_on(tmp_path: Path, texts: list[str], bad: st.DataObject) -> None:
    wav, _ = sample_wav(0)
    at = bad.draw(st.integers(0, len(texts)), label="bad row position")
    lines = [_line(f"r{i}", wav, text) for i, text in enumerate(texts)]
    lines.insert(at, f'bad,kim,4a,{wav},"OPEN QUOTE,2026-09-07\n')
    result = read_manifest(_csv(tmp_path, "".join(lines)))
    assert [s.recording_id for s in result.submissions] == [f"r{i}" for i in range(len(texts))]
    assert [e.line for e in result.errors] == [at + 2]
    assert result.errors[0].reason.startswith("unclosed quote")


_NOT_TEXT = st.one_of(
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.booleans(),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(column=st.sampled_from(["recording_id", "learner_id", "class_id", "audio", "text", "submitted_at"]),
       value=_NOT_TEXT)  # fmt: skip
def test_jsonl_fields_that_are_arrays_objects_or_booleans_are_rejected_by_line_and_field(
    tmp_path: Path, column: str, value: object
) -> None:
    wav, text = sample_wav(0)
    good = {"recording_id": "r1", "learner_id": "kim", "audio": str(wav), "text": text, "submitted_at": "2026-09-07"}
    path = tmp_path / "night.jsonl"
    rows = [good, {**good, "recording_id": "r2", column: value}, {**good, "recording_id": "r3", "learner_id": 42}]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = read_manifest(path)
    kind = {list: "an array", dict: "an object", bool: "a boolean"}[type(value)]
    assert [(e.line, e.reason) for e in result.errors] == [(2, f"{column} is {kind}, not text")]
    assert [(s.recording_id, s.learner_id) for s in result.submissions] == [("r1", "kim"), ("r3", "42")]
