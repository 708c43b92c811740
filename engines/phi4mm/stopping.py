"""When an answer ends: at an end token, at the brace that closes its JSON object, or at its budget.

Both decode loops end answers by this one rule, `generate` after the fact and the fast loop on
the device, so they give the same tokens. Stopping at the closing brace saves the end token's
step and whatever a model would add after its object, which the parser never reads.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class StopRule:
    """The stop tokens of a tokenizer and, for each token id, how many JSON objects it opens
    minus how many it closes (`{` and `}` in its text)."""

    def __init__(self, tokenizer, vocab_size: int) -> None:
        self.stop_ids = sorted({tokenizer.convert_tokens_to_ids("<|end|>"), tokenizer.eos_token_id})
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        deltas = [0] * max(vocab_size, len(tokenizer))
        for token, index in tokenizer.get_vocab().items():
            deltas[index] = token.count("{") - token.count("}")
        self.brace_deltas = deltas

    def answer(self, tokens: Sequence[int], budget: int, braces: bool) -> list[int]:
        """The answer's tokens: up to and including the one that ends it. `braces` is whether the
        answer is a JSON object, so that closing it ends the answer."""
        depth, opened = 0, False
        for index, token in enumerate(tokens[:budget]):
            if token in self.stop_ids:
                return list(tokens[: index + 1])
            depth += self.brace_deltas[token]
            opened = opened or depth > 0
            if braces and opened and depth <= 0:
                return list(tokens[: index + 1])
        return list(tokens[:budget])

    def tensors(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Stop ids, brace deltas and the pad id on `device`, for a loop that stops there."""
        return (
            torch.tensor(self.stop_ids, device=device),
            torch.tensor(self.brace_deltas, dtype=torch.int32, device=device),
            torch.tensor(self.pad_id, device=device),
        )
