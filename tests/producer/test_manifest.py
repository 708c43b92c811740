import json
from pathlib import Path

import pytest

from producer.manifest import ManifestError, read_manifest
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
