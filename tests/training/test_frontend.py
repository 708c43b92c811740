"""The phone classifier's training data and the calibration's feature selection, on data made here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.gop.neural.classes import PHONE_CLASSES, SILENCE
from training.frontend_data import EVALUATION_SPEAKERS, CorpusError, chosen, frame_targets, train_utterances
from training.gop_selection import select_level


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


def test_selection_keeps_the_feature_that_predicts_for_new_speakers_and_leaves_noise_out() -> None:
    rng = np.random.default_rng(0)
    speakers = [f"s{i % 12}" for i in range(240)]
    signal, noise = rng.normal(size=240), rng.normal(size=240)
    rows = [{"signal": s, "noise": n} for s, n in zip(signal, noise, strict=True)]
    targets = 5 + 2 * signal + rng.normal(scale=0.5, size=240)
    features, alpha = select_level(rows, targets.tolist(), speakers, ("noise", "signal"))
    assert features == ("signal",) and alpha > 0


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
