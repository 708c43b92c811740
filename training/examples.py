"""Supervised examples: a prompt with its audio, followed by the answer the model should give.

A recording's audio embeddings are computed apart from its prompts, so that one encoding
serves every prompt of the recording (the `paper` format has two) and, while the audio
encoder is frozen, every epoch. Prompt tokens are masked out of the loss; only the answer
and its end token are learned.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from engines.phi4mm.inputs import language_model
from engines.phi4mm.loading import ModelParts
from scoring.audio import SAMPLE_RATE
from scoring.formats import AUDIO_PLACEHOLDER

IGNORE_INDEX = -100


def audio_embeddings(parts: ModelParts, samples: np.ndarray) -> torch.Tensor:
    """One recording's audio embeddings (one row per audio token of its prompts), through the
    model's own audio embedding in speech mode: it fills a row of audio tokens, nothing else."""
    features = parts.features([samples], sampling_rate=SAMPLE_RATE, return_tensors="pt")
    size = int(features["audio_embed_sizes"][0])
    inner = language_model(parts)
    device = parts.model.device
    ids = torch.full((1, size), parts.model.config.audio_config.audio_token_id, dtype=torch.long, device=device)
    slots = torch.zeros((1, size, inner.config.hidden_size), dtype=inner.embed_tokens.weight.dtype, device=device)
    embeds = inner.embed_tokens_extend.audio_embed(
        ids,
        slots,
        audio_input_features=features["audio_input_features"].to(device),
        audio_embed_sizes=features["audio_embed_sizes"].to(device),
        audio_projection_mode="speech",
    )
    return embeds[0]


def answer_ids(parts: ModelParts, target: str) -> torch.Tensor:
    end = parts.tokenizer.convert_tokens_to_ids("<|end|>")
    ids = parts.tokenizer(target, add_special_tokens=False)["input_ids"]
    return torch.tensor([*ids, end], dtype=torch.long)


def supervised_example(
    parts: ModelParts, audio: torch.Tensor, prompt: str, target: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings of prompt + answer with the recording's `audio` embeddings in the prompt's
    audio positions (as the engine builds a prompt), and labels that are IGNORE_INDEX over the
    prompt."""
    answer = answer_ids(parts, target)
    text = prompt.replace(AUDIO_PLACEHOLDER, parts.audio_token * audio.shape[0])
    prompt_ids = parts.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"][0]
    device = parts.model.device
    ids = torch.cat([prompt_ids, answer]).to(device)
    embeds = language_model(parts).embed_tokens(ids)
    positions = ids == parts.model.config.audio_config.audio_token_id
    embeds = embeds.masked_scatter(positions[:, None], audio.to(device, embeds.dtype))
    labels = torch.full((ids.shape[0],), IGNORE_INDEX, dtype=torch.long, device=device)
    labels[-len(answer) :] = answer.to(device)
    return embeds, labels


def collate(examples: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Right-pad a batch for teacher forcing."""
    length = max(e.shape[0] for e, _ in examples)
    first = examples[0][0]
    embeds = first.new_zeros((len(examples), length, first.shape[1]))
    labels = torch.full((len(examples), length), IGNORE_INDEX, dtype=torch.long, device=first.device)
    mask = torch.zeros((len(examples), length), dtype=torch.long, device=first.device)
    for row, (e, y) in enumerate(examples):
        embeds[row, : e.shape[0]] = e
        labels[row, : y.shape[0]] = y
        mask[row, : e.shape[0]] = 1
    return {"inputs_embeds": embeds, "labels": labels, "attention_mask": mask}
