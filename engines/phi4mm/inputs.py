"""From audio and a prompt to the embeddings the language model reads.

The audio placeholder of a prompt is expanded to one audio token per audio embedding, as
transformers' processor does, and the audio encoder fills those positions. Each recording is
encoded on its own: the native encoder is not padding-invariant (padded frames leak into real
ones through its convolutions and additive masks), and a recording's scores must not depend
on its batch-mates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from peft import PeftModel

from engines.phi4mm.loading import ModelParts
from scoring.audio import SAMPLE_RATE
from scoring.formats import AUDIO_PLACEHOLDER


def prompt_ids(parts: ModelParts, samples: np.ndarray, prompt: str) -> tuple[torch.Tensor, dict[str, Any]]:
    """Token ids of a prompt with its audio placeholder expanded, and the audio features."""
    features = parts.features([samples], sampling_rate=SAMPLE_RATE, return_tensors="pt")
    size = int(features["audio_embed_sizes"][0])
    text = prompt.replace(AUDIO_PLACEHOLDER, parts.audio_token * size)
    ids = parts.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    return ids, features


def prompt_embeddings(
    parts: ModelParts, samples: np.ndarray, prompt: str, suffix_ids: torch.Tensor | None = None
) -> torch.Tensor:
    """Token and audio embeddings of one recording's prompt (and, for training, its answer),
    computed without padding so that no other recording can influence them."""
    ids, features = prompt_ids(parts, samples, prompt)
    if suffix_ids is not None:
        ids = torch.cat([ids, suffix_ids[None]], dim=1)
    model = parts.model
    device = model.device
    ids = ids.to(device)
    inner = (model.get_base_model() if isinstance(model, PeftModel) else model).model
    dtype = inner.embed_tokens.weight.dtype
    embeds = inner.embed_tokens(ids)
    embeds = inner.embed_tokens_extend(
        ids,
        embeds,
        audio_input_features=features["audio_input_features"].to(device, dtype),
        audio_embed_sizes=features["audio_embed_sizes"].to(device),
        audio_attention_mask=None,
    )
    return embeds[0]


def left_pad(embeds: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack prompts of different lengths, padded on the left so every row ends where its
    answer begins; returns the batch and its attention mask."""
    length = max(e.shape[0] for e in embeds)
    hidden = embeds[0].shape[1]
    batch = embeds[0].new_zeros((len(embeds), length, hidden))
    mask = torch.zeros((len(embeds), length), dtype=torch.long, device=embeds[0].device)
    for row, e in enumerate(embeds):
        batch[row, length - e.shape[0] :] = e
        mask[row, length - e.shape[0] :] = 1
    return batch, mask
