"""The optimiser step and the audio embeddings it reuses, on the tiny checkpoint."""

from pathlib import Path

import pytest
import torch

from engines.phi4mm.inputs import prompt_embeddings
from engines.phi4mm.loading import ModelParts, load_parts
from scoring.audio import decode
from tests.conftest import SAMPLE_DIR
from training.data import load_dataset
from training.examples import audio_embeddings, collate, supervised_example
from training.recipe import TrainConfig
from training.step import AudioEmbeddings, FineTuning
from training.trainer import speech_lora_model, training_pairs

DATASET = load_dataset(SAMPLE_DIR, "train")


def _load(index: int):
    return decode(DATASET.examples[index].audio.read_bytes(), 40)


def _parts(model: Path) -> ModelParts:
    parts = load_parts(str(model), None, torch.device("cpu"), torch.float32)
    return ModelParts(speech_lora_model(parts, str(model), None), parts.tokenizer, parts.features)


def test_training_embeds_a_prompt_exactly_as_serving_does(untaught_model: Path) -> None:
    parts = load_parts(str(untaught_model), None, torch.device("cpu"), torch.float32)
    parts.model.eval()
    pair = training_pairs(DATASET, "paper")[1]
    with torch.no_grad():
        served = prompt_embeddings(parts, _load(pair.recording), pair.prompt)
        trained, labels = supervised_example(parts, audio_embeddings(parts, _load(pair.recording)), pair.prompt, "{}")
    assert torch.equal(trained[: served.shape[0]], served)
    assert (labels[: served.shape[0]] == -100).all() and (labels[served.shape[0] :] >= 0).all()


def test_a_short_step_is_the_mean_of_the_micro_batches_it_has_and_warm_up_applies(tiny_model: Path) -> None:
    parts = _parts(tiny_model)
    config = TrainConfig(
        data=SAMPLE_DIR, model=str(tiny_model), out=Path("unused"), gradient_accumulation=8, warmup_steps=2,
        max_grad_norm=1e9,  # reported, never reached
    )  # fmt: skip
    fine_tuning = FineTuning(parts, config, torch.float32, _load, total_steps=4)
    batch = training_pairs(DATASET, "joint-v1")[:2]

    torch.manual_seed(1)  # the same LoRA dropout for the reference and the step
    audio = fine_tuning.audio.for_batch(p.recording for p in batch)
    examples = [supervised_example(parts, audio[p.recording], p.prompt, p.target) for p in batch]
    fine_tuning.model(**collate(examples)).loss.backward()
    grads = [p.grad for p in fine_tuning.trainable.values() if p.grad is not None]
    expected = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))
    fine_tuning.optimizer.zero_grad(set_to_none=True)

    torch.manual_seed(1)
    first = fine_tuning.step([batch])  # one micro-batch where 8 make a full step
    assert first.micro_batches == 1
    assert first.grad_norm == pytest.approx(expected, rel=1e-4), "weighted 1/1, not 1/8"
    second = fine_tuning.step([batch, batch])
    assert (first.learning_rate, second.learning_rate) == (0.0, pytest.approx(config.learning_rate / 2))


def test_audio_is_encoded_once_per_recording_and_kept_only_while_frozen(untaught_model: Path) -> None:
    parts = _parts(untaught_model)
    training = AudioEmbeddings(parts, _load, frozen=False)
    training.for_batch([0, 0, 1])  # both prompts of recording 0 in one micro-batch
    training.for_batch([0])
    assert training.encoded == 3 and not training.kept

    frozen = AudioEmbeddings(parts, _load, frozen=True)
    first = frozen.for_batch([0, 0, 1])
    frozen.for_batch([1, 2])
    assert frozen.encoded == 3
    assert torch.equal(frozen.for_batch([0])[0], first[0]) and not first[0].requires_grad
