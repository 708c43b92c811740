"""The GOP engine loaded once per test session, and a few sample recordings analysed once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engines.gop import GopConfig, GopEngine
from scoring.audio import decode
from scoring.speechocean import RatedUtterance, parse_utterance
from tests.conftest import SAMPLE_DIR


def sample_utterances() -> list[tuple[RatedUtterance, Path]]:
    lines = (SAMPLE_DIR / "labels.jsonl").read_text().splitlines()
    return [(u, SAMPLE_DIR / u.audio) for u in (parse_utterance(json.loads(line)) for line in lines)]


def substituted(utterance: RatedUtterance) -> list[tuple[int, int]]:
    """(word, phone) positions the annotators marked as heard as one other phone."""
    return [
        (w, m.index)
        for w, word in enumerate(utterance.words)
        for m in word.mispronunciations
        if m.pronounced != "<DEL>" and not m.pronounced.endswith("*") and m.pronounced.lower() != "<unk>"
        and " " not in m.pronounced
    ]  # fmt: skip


@pytest.fixture(scope="session")
def gop_engine() -> GopEngine:
    return GopEngine(GopConfig())


@pytest.fixture(scope="session")
def analysed(gop_engine: GopEngine) -> list:
    """The sample's utterances with annotated substitutions and the first ten without, analysed
    (about 25 recordings: enough phones of each kind for the statistics, a dozen seconds of CPU)."""
    chosen = [pair for pair in sample_utterances() if substituted(pair[0])]
    chosen += [pair for pair in sample_utterances() if not substituted(pair[0])][:10]
    return [
        (utterance, gop_engine.analyser.analyse(decode(path.read_bytes(), 40.0), utterance.text))
        for utterance, path in chosen
    ]
