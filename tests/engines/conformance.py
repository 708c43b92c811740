"""What every engine must do, as cases any engine can be put through: `test_conformance` runs
them on each registered engine, `test_registry` on an engine a test registers.

An engine returns one well-formed result per recording, in order, and never raises for what it
hears: a good recording is scored, silence is scored or failed with a reason, a batch of mixed
lengths keeps each recording's own result, and a recording scored alone gets the result it gets
among others. `pronscore score` runs it by name and fails an unreadable file alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from cli.app import app
from db.models import ModelVersion
from engines import Engine, ScoringItem
from scoring.assessment import AssessmentResult
from scoring.audio import SAMPLE_RATE, decode
from scoring.failures import FailureReason
from scoring.scores import SCORE_ASPECTS
from scoring.text import normalize_text
from tests.conftest import sample_wav

# Sample recordings of different sentences and lengths: 1.9, 2.6, 3.0, 4.1 and 10.5 s.
MIXED = (44, 0, 7, 30, 112)


def item(index: int) -> ScoringItem:
    path, text = sample_wav(index)
    return ScoringItem(decode(path.read_bytes(), 40.0), text)


def assert_well_formed(result: AssessmentResult, reference: str) -> None:
    """A scored result has the four scores 0-10 and a word per reference word; a failed one a
    reason and its detail; either serialises to the assessment JSON."""
    body = json.loads(json.dumps(result.to_dict()))
    assert body["status"] == ("scored" if result.scored else "failed")
    if result.scored:
        assert result.scores is not None and set(result.scores) == set(SCORE_ASPECTS)
        assert all(isinstance(v, int) and 0 <= v <= 10 for v in result.scores.values()), result.scores
        assert isinstance(result.word_transcript, str) and isinstance(result.phoneme_transcript, str)
        assert [word["text"] for word in body["words"]] == normalize_text(reference).split()
    else:
        assert FailureReason(body["reason"]) and body["detail"], body


def the_version_says_what_scored(engine: Engine, name: str) -> None:
    version = engine.version
    assert version.name and version.engine == name
    assert version.base_model and version.runtime
    body = json.loads(json.dumps(version.to_dict()))
    assert {"name", "engine", "base", "base_revision", "artifact_sha256", "runtime"} <= set(body)
    assert set(version.row()) <= set(ModelVersion.__table__.columns.keys())


def a_good_recording_is_scored(engine: Engine, name: str) -> None:
    good = item(0)
    (result,) = engine.score([good])
    assert result.scored, result.to_dict()
    assert_well_formed(result, good.reference_text)


def silence_is_scored_or_failed_with_a_reason(engine: Engine, name: str) -> None:
    silence = ScoringItem(np.zeros(2 * SAMPLE_RATE, dtype=np.float32), "WE CALL IT BEAR")
    (result,) = engine.score([silence])
    assert_well_formed(result, silence.reference_text)


def a_batch_of_mixed_lengths_keeps_each_result_its_own(engine: Engine, name: str) -> None:
    items = [item(index) for index in MIXED]
    assert len({round(i.seconds, 1) for i in items}) == len(items), "the lengths must differ"
    results = engine.score(items)
    assert len(results) == len(items)
    for one, result in zip(items, results, strict=True):
        assert_well_formed(result, one.reference_text)
        assert result.to_dict() == engine.score([one])[0].to_dict(), "a result differs from the one alone"
    # A test checkpoint (its version says its scores are meaningless) may write an answer that
    # does not parse; any other failure, or a real model's, is the engine's.
    unscored = [r for r in results if not r.scored]
    tolerated = engine.version.meaningless and all(
        r.failure is not None and r.failure.reason is FailureReason.unparseable_output for r in unscored
    )
    assert not unscored or tolerated, [r.to_dict() for r in unscored]


def alone_and_in_company_score_the_same(engine: Engine, name: str) -> None:
    target, before, after = item(MIXED[2]), item(MIXED[3]), item(MIXED[0])
    alone = engine.score([target])[0].to_dict()
    in_company = engine.score([before, target, after])[1].to_dict()
    again = engine.score([target, target])
    assert in_company == alone
    assert [result.to_dict() for result in again] == [alone, alone]


CASES: dict[str, Callable[[Engine, str], None]] = {
    case.__name__: case
    for case in (
        the_version_says_what_scored,
        a_good_recording_is_scored,
        silence_is_scored_or_failed_with_a_reason,
        a_batch_of_mixed_lengths_keeps_each_result_its_own,
        alone_and_in_company_score_the_same,
    )
}


def an_unreadable_file_fails_alone(name: str, environment: dict[str, str], tmp_path: Path) -> None:
    """`pronscore score --engine NAME` on a good file and a corrupt one: the corrupt one fails
    `audio_unreadable`, the good one is scored, and the exit status says some failed."""
    good, text = sample_wav(0)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage" * 4)
    arguments = ["score", str(good), str(corrupt), "--text", text, "--engine", name]
    result = CliRunner().invoke(app, arguments, env=environment)
    assert result.exit_code == 1, result.output
    lines = {line["recording_id"]: line for line in map(json.loads, result.stdout.splitlines())}
    assert lines["corrupt"]["status"] == "failed" and lines["corrupt"]["reason"] == "audio_unreadable"
    assert lines[good.stem]["status"] == "scored" and lines[good.stem]["model"]["engine"] == name
