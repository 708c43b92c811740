"""Greedy decoding through transformers' `generate`, the reference the fast loop is held to,
and the halving of a batch that runs out of GPU memory."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch

from engines.phi4mm.loading import ModelParts
from engines.phi4mm.stopping import StopRule

log = logging.getLogger(__name__)

Row = TypeVar("Row")
Out = TypeVar("Out")


@torch.inference_mode()
def generate_tokens(
    parts: ModelParts,
    embeds: torch.Tensor,
    mask: torch.Tensor,
    budgets: Sequence[int],
    stop: StopRule,
    braces: bool,
) -> list[list[int]]:
    """Each row's answer tokens for left-padded prompt embeddings, by `generate` with a dynamic
    cache; each row keeps only its own budget and ends by `stop`, as the fast loop ends it."""
    output = parts.model.generate(
        inputs_embeds=embeds,
        attention_mask=mask,
        max_new_tokens=max(budgets),
        do_sample=False,
        eos_token_id=stop.stop_ids,
        pad_token_id=stop.pad_id,
    )
    return [stop.answer(row.tolist(), budget, braces) for row, budget in zip(output, budgets, strict=True)]


def halving(run: Callable[[Sequence[Row]], list[Out]], rows: Sequence[Row]) -> list[Out]:
    """`run(rows)`, splitting the rows in two and retrying each half when the GPU runs out of memory."""
    try:
        return run(rows)
    except torch.OutOfMemoryError:
        if len(rows) == 1:
            raise
        torch.cuda.empty_cache()
        half = len(rows) // 2
        log.warning("out of memory at batch %d; retrying as %d + %d", len(rows), half, len(rows) - half)
        return halving(run, rows[:half]) + halving(run, rows[half:])
