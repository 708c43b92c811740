"""The Whisper decoder's fit of a reference: how the reference is written for it, what the
features say, and, where the `neural` extra's weights are installed, that a sample recording's
own sentence fits it far better than another sentence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.gop.analysis import Features
from engines.gop.features import PHONE_FEATURES, PhoneEvidence
from engines.gop.neural.encoder import FrontEndUnavailable
from engines.gop.neural.reading import READING_FEATURES, ReadingFit, as_written
from scoring.audio import decode

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "speechocean762-sample"
WORDS = st.lists(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ'", min_size=1, max_size=8), min_size=1, max_size=12)


def test_the_reference_is_written_in_sentence_case_with_i_capitalised() -> None:
    assert as_written(["WE", "CALL", "IT", "BEAR"]) == ["We", "call", "it", "bear"]
    assert as_written(["SHE", "SAID", "I'M", "SURE", "I", "IT'S"]) == ["She", "said", "I'm", "sure", "I", "it's"]


@given(WORDS)
def test_writing_keeps_every_word_and_changes_only_case(words: list[str]) -> None:
    written = as_written(words)
    assert [w.upper() for w in written] == words
    assert written[0][0] == words[0][0]
    assert all(w == w.lower() or w == "I" or w.startswith("I'") for w in written[1:])


def test_features_are_the_mean_token_and_the_weakest_word() -> None:
    fit = ReadingFit(((-0.1, -0.3), (-2.0,), (-0.2, -0.2, -0.2)))
    found = fit.features()
    assert set(found) == set(READING_FEATURES)
    assert found["asr_mean"] == pytest.approx(-3.0 / 6)
    assert found["asr_min"] == pytest.approx(-2.0)
    assert fit.word_features(0) == pytest.approx({"asr_mean": -0.2, "asr_min": -0.3})


def test_a_phone_row_carries_its_words_fit_where_the_decoder_ran() -> None:
    phone = PhoneEvidence(1, "K", 10, 6, -12.0, "G", -6.0, -1.0)
    with_fit = Features([phone], {}, {1: {"gop_mean": -1.0, "asr_mean": -0.5, "asr_min": -2.0}})
    row = with_fit.phone_row(phone)
    assert row["word_asr_mean"] == -0.5 and row["word_asr_min"] == -2.0
    assert set(row) == set(PHONE_FEATURES) | {"word_asr_mean", "word_asr_min"}
    assert set(Features([phone], {}, {1: {"gop_mean": -1.0}}).phone_row(phone)) == set(PHONE_FEATURES)


@pytest.fixture(scope="module")
def front_end():
    from engines.gop.neural.frontend import load_front_end

    try:
        return load_front_end()
    except FrontEndUnavailable as error:
        pytest.skip(f"the neural front end is not installed: {error}")


def _label(utt: str) -> dict:
    for line in (SAMPLE / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        if (row := json.loads(line))["utt"] == utt:
            return row
    raise KeyError(utt)


def test_a_recording_fits_its_own_sentence_far_better_than_another(front_end) -> None:
    row = _label("000010011")  # "WE CALL IT BEAR", read well
    samples = decode((SAMPLE / row["audio"]).read_bytes(), 40.0)
    own = front_end.hear(samples, row["text"].split()).reading
    other = front_end.hear(samples, "HE'S UNDER MY CARE TOO".split()).reading
    assert len(own.words) == 4 and all(own.words)
    assert own.features()["asr_mean"] > -1.0 > -3.0 > other.features()["asr_mean"]
    again = front_end.hear(samples, row["text"].split()).reading
    assert again == own, "the same audio and text must give the same fit"
    assert np.all(np.array([p for word in own.words for p in word]) <= 0.0)
