"""Supervised examples: a prompt with its audio, followed by the answer the model should give.

Prompt tokens are masked out of the loss; only the answer and its end token are learned.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from engines.phi4mm.inputs import prompt_embeddings
from engines.phi4mm.loading import ModelParts

IGNORE_INDEX = -100


def answer_ids(parts: ModelParts, target: str) -> torch.Tensor:
    end = parts.tokenizer.convert_tokens_to_ids("<|end|>")
    ids = parts.tokenizer(target, add_special_tokens=False)["input_ids"]
    return torch.tensor([*ids, end], dtype=torch.long)


def supervised_example(
    parts: ModelParts, samples: np.ndarray, prompt: str, target: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings of prompt + answer, and labels that are IGNORE_INDEX over the prompt."""
    answer = answer_ids(parts, target)
    embeds = prompt_embeddings(parts, samples, prompt, suffix_ids=answer)
    labels = torch.full((embeds.shape[0],), IGNORE_INDEX, dtype=torch.long)
    labels[-len(answer) :] = answer
    return embeds, labels.to(embeds.device)


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
