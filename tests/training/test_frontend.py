"""The phone classifier's training data and the calibration's choice of ridge strength, on data made here."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.gop.analysis import Analysis
from engines.gop.neural.classes import PHONE_CLASSES, SILENCE
from scoring.speechocean import RatedUtterance
from training.frontend_data import EVALUATION_SPEAKERS, CorpusError, chosen, frame_targets, train_utterances
from training.gop import ALPHAS, FEATURES, Analysed, Selection
from training.gop_selection import ALPHA_GRID, choose_alpha, select


def _corpus(root: Path) -> Path:
    """A release folder as cloned: WAVE/, train/ and test/ Kaldi folders, resource/text-phone."""
    (root / "train").mkdir(parents=True)
    (root / "resource").mkdir()
    rows = [("000010011", "0001", "WE CALL"), ("000480001", "0048", "WE"), ("001230002", "0123", "CALL")]
    (root / "train" / "wav.scp").write_text("".join(f"{u}\tWAVE/SPEAKER{s}/{u}.WAV\n" for u, s, _ in rows))
    (root / "train" / "utt2spk").write_text("".join(f"{u}\t{s}\n" for u, s, _ in rows))
    (root / "train" / "text").write_text("".join(f"{u}\t{t}\n" for u, _, t in rows))
    phones = {"WE": "W_B IY0_E", "CALL": "K_B AO0_I L_E"}
    (root / "resource" / "text-phone").write_text(
        "".join(f"{u}.{i}\t{phones[w]}\n" for u, _, t in rows for i, w in enumerate(t.split()))
    )
    return root


def test_training_utterances_leave_out_the_sample_and_evaluation_speakers(tmp_path: Path) -> None:
    found = train_utterances(_corpus(tmp_path), {"0001"} | EVALUATION_SPEAKERS)
    assert [(u.utt, u.speaker) for u in found] == [("001230002", "0123")]
    assert found[0].phones == (("K", "AO", "L"),) and found[0].audio == tmp_path / "WAVE/SPEAKER0123/001230002.WAV"


def test_a_corpus_without_its_kaldi_files_is_named(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"train/wav\.scp"):
        train_utterances(tmp_path, set())


def test_a_larger_limit_extends_a_smaller_ones_choice(tmp_path: Path) -> None:
    utterances = train_utterances(_corpus(tmp_path), set())
    assert chosen(utterances, 3)[:2] == chosen(utterances, 2)


@given(st.lists(st.tuples(st.sampled_from(PHONE_CLASSES[:-1]), st.integers(1, 30)), max_size=8), st.integers(0, 20))
def test_frame_targets_give_each_20ms_frame_the_phone_at_its_centre(phones: list, lead: int) -> None:
    placed, start = [], lead
    for phone, duration in phones:
        placed.append((phone, start, duration))
        start += duration
    frames = (start + 1) // 2 + 3
    targets = frame_targets(placed, frames)
    assert len(targets) == frames
    fine = [SILENCE] * (2 * frames + 2)
    for phone, first, duration in placed:
        fine[first : first + duration] = [phone] * duration
    assert [PHONE_CLASSES[t] for t in targets] == [fine[2 * t + 1] for t in range(frames)]


def test_ridge_strength_stays_weak_where_shrinking_would_point_the_fit_the_wrong_way() -> None:
    """Two strongly correlated features whose difference carries the target: heavy shrinkage
    weighs them by their own correlation with it and loses the difference."""
    rng = np.random.default_rng(0)
    speakers = [f"s{i % 12}" for i in range(240)]
    first = rng.normal(size=240)
    second = 0.9 * first + np.sqrt(1 - 0.81) * rng.normal(size=240)
    targets = first - 0.5 * second + rng.normal(scale=0.05, size=240)
    rows = [{"first": a, "second": b} for a, b in zip(first, second, strict=True)]
    assert choose_alpha(rows, targets.tolist(), speakers, ("first", "second")) == ALPHA_GRID[0]


def test_ratings_of_fewer_speakers_than_inner_folds_keep_the_fixed_recipe() -> None:
    """Three speakers cannot be dealt into four speaker-grouped folds; their analyses are
    never read, so a stand-in serves."""
    analysis = cast(Analysis, object())
    items = [Analysed(RatedUtterance(f"u{i}", f"s{i % 3}", "train", "", "WE", {}, ()), analysis) for i in range(12)]
    assert select(items) == Selection(FEATURES, ALPHAS)


@given(
    st.integers(8, 40).flatmap(
        lambda n: st.tuples(
            st.lists(st.lists(st.sampled_from([0.0, 1.0, -2.5, 1e3]), min_size=3, max_size=3), min_size=n, max_size=n),
            st.lists(st.sampled_from([0.0, 3.0, 7.0, 10.0]), min_size=n, max_size=n),
        )
    )
)
def test_ridge_strength_is_a_grid_value_for_any_ratings(table: tuple[list[list[float]], list[float]]) -> None:
    """Constant columns, constant ratings and repeated rows, as a school's few ratings can
    give, still choose a strength rather than fail."""
    values, targets = table
    rows = [dict(zip(("a", "b", "c"), row, strict=True)) for row in values]
    speakers = [f"s{i % 5}" for i in range(len(rows))]
    assert choose_alpha(rows, targets, speakers, ("a", "b", "c")) in ALPHA_GRID


@pytest.mark.parametrize("command", [["train-gop"], ["evaluate", "--engine", "gop"]])
def test_the_release_folder_as_cloned_names_the_missing_human_scores(tmp_path: Path, command: list[str]) -> None:
    from typer.testing import CliRunner

    from cli.app import app

    root = _corpus(tmp_path / "speechocean762")
    (root / "test").mkdir()
    (root / "WAVE").mkdir()
    (root / "test" / "wav.scp").write_text("")
    result = CliRunner().invoke(app, [*command, "--data", str(root), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "resource/scores.json" in message and "human scores" in message and "WAVE/" in message
