"""From audio and a prompt to the embeddings the language model reads.

The audio placeholder of a prompt is expanded to one audio token per audio embedding, as
transformers' processor does, and the audio encoder fills those positions.

Serving extracts each recording's log-mel features alone (`recording_features`, which the
engine's `prepare` runs on the worker's fetch threads), pads them into a batch, encodes the
batch's audio with the padding-safe encoder (`audio_encoder`), once per recording however many
turns its task format has, and builds the prompts of a batch
around those embeddings (`PromptTokens`, `batch_embeddings`). `prompt_embeddings` builds one
prompt through the native encoder, the reference that tests compare training's examples with.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from peft import PeftModel

from engines.phi4mm.audio_encoder import encode_audio
from engines.phi4mm.loading import ModelParts
from scoring.audio import MIN_SAMPLES, SAMPLE_RATE
from scoring.formats import AUDIO_PLACEHOLDER

# Distinct prompt texts kept tokenized: every sentence of a night's manifests, several times over.
TOKENIZED_TEXTS = 16384


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
    inner = language_model(parts)
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


def language_model(parts: ModelParts) -> Any:
    """The decoder inside the model (under its peft wrapper, if any): token and audio embeddings."""
    model = parts.model
    return (model.get_base_model() if isinstance(model, PeftModel) else model).model


def audio_embed_size(parts: ModelParts, samples: int) -> int:
    """How many audio tokens `samples` of 16 kHz audio become (what the feature extractor
    reports as `audio_embed_sizes`), known before any feature is computed."""
    extractor = parts.features
    frames = ((samples - extractor.win_length) // extractor.hop_length + 1) * extractor.audio_feat_stride
    compressed = math.ceil(frames / extractor.audio_compression_rate)
    return math.ceil(compressed / extractor.audio_downsample_rate)


@dataclass(frozen=True)
class RecordingFeatures:
    """One recording's log-mel features [frames, mel], extracted alone, and its audio tokens."""

    features: torch.Tensor
    embed_size: int


def recording_features(parts: ModelParts, samples: np.ndarray) -> RecordingFeatures:
    """The feature extractor's features of one recording. Extracted alone because the
    extractor's batched call masks padding with a window that can be one frame wider than the
    padded batch (it raises when a shorter row ends in the longest row's last 10 ms hop, under
    80 samples before it), and a row alone is the reference every batch must equal."""
    if len(samples) < MIN_SAMPLES:
        raise ValueError(f"{len(samples)} samples give no feature frame (the minimum is {MIN_SAMPLES})")
    out = parts.features([samples], sampling_rate=SAMPLE_RATE, return_tensors="pt")
    return RecordingFeatures(out["audio_input_features"][0], int(out["audio_embed_sizes"][0]))


@dataclass(frozen=True)
class AudioFeatures:
    """Log-mel features of a batch of recordings, padded to the longest, with each row's real length."""

    features: torch.Tensor
    frame_lengths: list[int]
    embed_sizes: list[int]


def padded_features(recordings: Sequence[RecordingFeatures]) -> AudioFeatures:
    """Recordings' features zero-padded to the longest: each row is bit for bit its features alone."""
    features = torch.nn.utils.rnn.pad_sequence([r.features for r in recordings], batch_first=True)
    return AudioFeatures(features, [r.features.shape[0] for r in recordings], [r.embed_size for r in recordings])


def audio_features(parts: ModelParts, samples: Sequence[np.ndarray]) -> AudioFeatures:
    """The features of a batch of recordings, each extracted alone, then padded."""
    return padded_features([recording_features(parts, one) for one in samples])


def audio_embeddings(parts: ModelParts, audio: AudioFeatures) -> list[torch.Tensor]:
    """Each recording's audio embeddings, from one padding-safe encoder call for the batch."""
    embedding = language_model(parts).embed_tokens_extend.audio_embed
    return encode_audio(embedding, audio.features, audio.frame_lengths, audio.embed_sizes)


class PromptTokens:
    """Token ids of prompts with their audio placeholder expanded. The audio token is a special
    token, so the text on either side tokenizes on its own; a text is tokenized once however
    many recordings share it, and the cache is bounded because the text after the audio holds
    each recording's reference sentence, which a long-lived worker sees without end."""

    def __init__(self, parts: ModelParts) -> None:
        self.tokenizer = parts.tokenizer
        self.audio_id = parts.model.config.audio_config.audio_token_id
        self.pad_id = self.tokenizer.pad_token_id
        self._ids = functools.lru_cache(maxsize=TOKENIZED_TEXTS)(self._tokenize)

    def _tokenize(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def ids(self, prompt: str, audio_tokens: int) -> list[int]:
        before, after = prompt.split(AUDIO_PLACEHOLDER)
        return [*self._ids(before), *[self.audio_id] * audio_tokens, *self._ids(after)]


def batch_embeddings(
    parts: ModelParts, prompts: Sequence[Sequence[int]], audio: Sequence[torch.Tensor], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token embeddings of prompt ids, left-padded so every row ends where its answer begins,
    with each row's audio embeddings at its audio tokens (as the native embedding places
    them); returns the batch and its attention mask."""
    language = language_model(parts)
    device = language.embed_tokens.weight.device
    length = max(len(ids) for ids in prompts)
    ids = torch.full((len(prompts), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), length), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, length - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
        mask[row, length - len(prompt) :] = 1
    ids, mask = ids.to(device), mask.to(device)
    embeds = language.embed_tokens(ids)
    audio_id = parts.model.config.audio_config.audio_token_id
    positions = torch.nonzero((ids == audio_id) & (mask == 1), as_tuple=True)
    return embeds.index_put(positions, torch.cat(list(audio)).to(embeds.dtype)), mask
