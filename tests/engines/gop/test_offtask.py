"""The off-task check's logic on made-up evidence, and how it is fitted."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engines.gop.aligner import AlignedPhone, AlignedWord, ForcedAlignment
from engines.gop.analysis import Analysis, WrongText
from engines.gop.features import PhoneEvidence
from engines.gop.neural.evidence import NEURAL_SCALE
from engines.gop.neural.reading import ReadingFit
from engines.gop.offtask import (
    FEATURES,
    NEURAL_FEATURES,
    OffTaskModel,
    analysis_features,
    check_read,
    load_offtask,
    offtask_features,
)
from engines.gop.phone_loop import LoopSegment
from training.gop_offtask import fit

PHONES = ("W", "IY0", "K", "AO1", "L")


def _analysis(method: str, heard: list[str | None], durations: list[int], gop: float = -40.0) -> Analysis:
    """Five phones of one word, one after another; the loop heard `heard` over each."""
    starts = np.cumsum([10, *durations[:-1]]).tolist()
    phones = [AlignedPhone(0, p, s, d, int(gop * d)) for p, s, d in zip(PHONES, starts, durations, strict=True)]
    word = AlignedWord(0, "WE", starts[0], sum(durations))
    spans = zip(heard, starts, durations, strict=True)
    loop = [LoopSegment(h or "SIL", s, s + max(d, 1) - 1, 0.0) for h, s, d in spans]
    evidence = [
        PhoneEvidence(0, p.phone, p.start, p.duration, float(p.score), h, 0.0, gop)
        for p, h in zip(phones, heard, strict=True)
    ]
    alignment = ForcedAlignment([word], phones, starts[-1] + durations[-1])
    return Analysis([], alignment, evidence, loop, 1.0, method)


def _model(threshold: float) -> OffTaskModel:
    """Log-odds = -gop_p25 / 10: a phone fit of -60 gives 6."""
    return OffTaskModel(FEATURES, (0.0,) * 4, (1.0,) * 4, (0.0, -0.1, 0.0, 0.0), 0.0, threshold)


def test_the_model_rejects_above_its_threshold_with_the_evidence_in_the_detail() -> None:
    bad = _analysis("forced", list(PHONES), [8] * 5, gop=-60.0)
    check_read(bad, _model(threshold=6.5))
    with pytest.raises(WrongText, match=r"log-odds 6\.0 > 5\.5"):
        check_read(bad, _model(threshold=5.5))


def test_the_features_say_how_phones_are_crammed_and_whether_the_loop_heard_them_near() -> None:
    analysis = _analysis("forced", ["W", "IY0", "S", None, "T"], [3, 3, 8, 8, 8], gop=-50.0)
    found = offtask_features(analysis.evidence, analysis.loop)
    assert found["short_share"] == pytest.approx(0.4) and found["near_share"] == pytest.approx(0.4)
    assert found["gop_p25"] == pytest.approx(-50.0) and found["fit"] == pytest.approx(-50.0)


def test_with_the_neural_front_end_a_reference_the_decoder_finds_unlikely_is_rejected_and_said_so() -> None:
    count = len(NEURAL_FEATURES)
    weights = tuple(-1.0 if name == "asr_mean" else 0.0 for name in NEURAL_FEATURES)
    model = OffTaskModel(NEURAL_FEATURES, (0.0,) * count, (1.0,) * count, weights, 0.0, 2.0)
    phones = replace(_analysis("forced", list(PHONES), [8] * 5, gop=-1.0), scale=NEURAL_SCALE)
    read = replace(phones, reading=ReadingFit(((-0.2, -0.4), (-1.0,))))
    found = analysis_features(read)
    assert found["asr_mean"] == pytest.approx(-1.6 / 3) and found["nn_gop_mean"] == pytest.approx(-1.0)
    assert set(found) == set(NEURAL_FEATURES)
    check_read(read, model)
    with pytest.raises(WrongText, match=r"-4\.0 nats a token to a speech recogniser"):
        check_read(replace(phones, reading=ReadingFit(((-3.0, -5.0),))), model)
    with pytest.raises(KeyError, match="asr_mean"):
        check_read(phones, model)  # never judged without the decoder's fit it was fitted on


def test_a_loop_fallback_is_judged_by_how_many_phones_the_loop_heard() -> None:
    model = _model(threshold=-100.0)  # would reject any forced alignment
    check_read(_analysis("loop", ["W", "IY0", "K", None, "T"], [5] * 5), model)
    with pytest.raises(WrongText, match="could not be aligned"):
        check_read(_analysis("loop", ["W", "AA1", "S", None, "T"], [5] * 5), model)


def test_the_shipped_model_was_fitted_on_other_speakers_than_the_sample() -> None:
    model = load_offtask()
    assert model.features == FEATURES
    assert model.trained_on["split"] == "train" and "speechocean762-sample" in model.trained_on["excluded_speakers_of"]
    assert model.trained_on["own_rejected"] <= 0.02 and model.trained_on["others_caught"] >= 0.6
    assert OffTaskModel.from_json(model.to_json()) == model


def test_the_shipped_neural_model_weighs_the_decoders_fit_and_was_fitted_on_other_speakers() -> None:
    model = load_offtask(front_end="neural")
    assert model.features == NEURAL_FEATURES and model.trained_on["front_end"] == "neural"
    assert model.trained_on["split"] == "train" and "speechocean762-sample" in model.trained_on["excluded_speakers_of"]
    assert model.trained_on["own_rejected"] <= 0.02 and model.trained_on["others_caught"] >= 0.9


@settings(max_examples=30, deadline=None)
@given(
    own=st.integers(min_value=20, max_value=300),
    others=st.integers(min_value=20, max_value=300),
    gap=st.floats(min_value=0.0, max_value=5.0),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_the_fitted_threshold_rejects_at_most_the_share_of_own_reads_asked(
    own: int, others: int, gap: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)

    def rows(count: int, shift: float, is_own: bool) -> list[tuple[dict[str, float], bool]]:
        values = rng.standard_normal((count, len(FEATURES))) - shift
        return [(dict(zip(FEATURES, row.tolist(), strict=True)), is_own) for row in values]

    data = rows(own, 0.0, True) + rows(others, gap, False)
    model = fit(data, own_rejected=0.02)
    rejected = sum(model.log_odds(values) > model.threshold for values, is_own in data if is_own)
    assert rejected <= np.ceil(0.02 * own)
    assert model.trained_on["own_reads"] == own and model.trained_on["other_sentences"] == others
