"""Greedy decoding through transformers' `generate`, the reference the fast loop is held to,
and the halving of a batch that runs out of GPU memory."""

from __future__ import annotations

import gc
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


# How allocation failures read when they are not a `torch.OutOfMemoryError`: cuBLAS, cuDNN and
# the CUDA runtime report them as plain `RuntimeError`s.
OUT_OF_MEMORY_MESSAGES = ("out of memory", "CUBLAS_STATUS_ALLOC_FAILED", "CUDNN_STATUS_ALLOC_FAILED")


class RowOutOfMemory(RuntimeError):
    """One recording does not fit in the GPU's memory even alone."""


def is_out_of_memory(error: BaseException) -> bool:
    """Whether `error` is the GPU running out of memory, in any of the forms it arrives in."""
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and any(message in str(error) for message in OUT_OF_MEMORY_MESSAGES)


def free_memory() -> None:
    """Hand the failed attempt's memory back: its tensors die with the frames the traceback held
    (collected here, cycles included), then the allocator's cached blocks are released."""
    gc.collect()
    if torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def halving(run: Callable[[Sequence[Row]], list[Out]], rows: Sequence[Row]) -> list[Out]:
    """`run(rows)`, splitting the rows in two and retrying each half when the GPU runs out of
    memory; one row that does not fit raises `RowOutOfMemory`. Every retry starts after the
    `except` block has ended, so the failed attempt's tensors are freed before it."""
    try:
        return run(rows)
    except Exception as error:
        if not is_out_of_memory(error):
            raise
        detail = f"{type(error).__name__}: {error}"
    free_memory()
    if len(rows) == 1:
        raise RowOutOfMemory(f"out of GPU memory scoring one recording alone ({detail})")
    half = len(rows) // 2
    log.warning("out of memory at batch %d; retrying as %d + %d", len(rows), half, len(rows) - half)
    return halving(run, rows[:half]) + halving(run, rows[half:])
