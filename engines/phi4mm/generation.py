"""Greedy decoding of a batch of prompts, halved and retried on CUDA out-of-memory."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from engines.phi4mm.inputs import left_pad, prompt_embeddings
from engines.phi4mm.loading import ModelParts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    """One recording's prompt for one turn of a task format, with its token budget."""

    samples: np.ndarray
    prompt: str
    max_new_tokens: int


def stop_ids(parts: ModelParts) -> list[int]:
    return [parts.tokenizer.convert_tokens_to_ids("<|end|>"), parts.tokenizer.eos_token_id]


@torch.inference_mode()
def greedy(parts: ModelParts, requests: Sequence[Request], static_cache: bool = False) -> list[str]:
    """Decode a left-padded batch greedily; each row keeps only its own budget, so a longer
    batch-mate cannot lengthen its answer."""
    inputs, mask = left_pad([prompt_embeddings(parts, r.samples, r.prompt) for r in requests])
    output = parts.model.generate(
        inputs_embeds=inputs,
        attention_mask=mask,
        max_new_tokens=max(r.max_new_tokens for r in requests),
        do_sample=False,
        eos_token_id=stop_ids(parts),
        pad_token_id=parts.tokenizer.pad_token_id,
        **({"cache_implementation": "static"} if static_cache else {}),
    )
    rows = [row[: r.max_new_tokens] for row, r in zip(output, requests, strict=True)]
    return parts.tokenizer.batch_decode(rows, skip_special_tokens=True)


def greedy_halving(parts: ModelParts, requests: Sequence[Request], static_cache: bool = False) -> list[str]:
    """`greedy`, splitting the batch in two and retrying each half when the GPU runs out of memory."""
    try:
        return greedy(parts, requests, static_cache)
    except torch.OutOfMemoryError:
        if len(requests) == 1:
            raise
        torch.cuda.empty_cache()
        half = len(requests) // 2
        log.warning("out of memory at batch %d; retrying as %d + %d", len(requests), half, len(requests) - half)
        return greedy_halving(parts, requests[:half], static_cache) + greedy_halving(
            parts, requests[half:], static_cache
        )
