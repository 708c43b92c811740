"""How two greedy decodings of the same prompts are held to each other, step by step.

The fast loop and `generate`, or a recording decoded in a batch and alone, must agree. In
float32 they give the same tokens and logits to about 1e-6. In bfloat16 the logits leave the
head rounded to 8 bits of mantissa, so two candidates closer than an ulp or two can swap with
the batch's padding or the GEMM's blocking, and a greedy token may honestly differ. The rule
here: each step's logits agree within the dtype's tolerance, and the tokens are equal until
the first step where they are not, which is allowed only where the reference's top two logits
are within that tolerance (a near tie); what follows a near tie is not compared, since the two
decodings then read different inputs. Used by the tests and the benchmarks that compare loops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from engines.phi4mm.decoding import FastDecoder
from engines.phi4mm.loading import ModelParts
from engines.phi4mm.stopping import StopRule
from scoring.formats import TaskFormat

# Logits differences allowed, relative to the step's largest |logit|: 4 × 2^-8 in bfloat16 (2-4
# ulps; right for a few layers, while at full depth and width the loops differ by up to 2.4%,
# see benchmarks/README.md), and float32's rounding with room to spare.
RELATIVE_TOLERANCE = {torch.bfloat16: 4 * 2**-8, torch.float16: 4 * 2**-11, torch.float32: 1e-4}


def tolerance(dtype: torch.dtype, logits: torch.Tensor) -> float:
    """The largest logit difference two agreeing decodings may show at a step of `logits`."""
    return RELATIVE_TOLERANCE[dtype] * max(1.0, logits.abs().max().item())


@dataclass(frozen=True)
class Agreement:
    """How one row's two decodings compare, up to the first step whose tokens differ (None:
    none): whether that step was a near tie, the largest logit difference and tolerance over
    the steps compared, and whether every step's difference was within that step's tolerance."""

    steps: int
    first_difference: int | None
    near_tie: bool
    max_logit_difference: float
    max_tolerance: float
    within_tolerance: bool

    @property
    def agrees(self) -> bool:
        """Logits within tolerance at every step, and tokens equal except after a near tie."""
        return self.within_tolerance and (self.first_difference is None or self.near_tie)

    @property
    def identical_tokens(self) -> bool:
        return self.first_difference is None


def compare_rows(
    reference_tokens: Sequence[int],
    reference_logits: Sequence[torch.Tensor],
    tokens: Sequence[int],
    logits: Sequence[torch.Tensor],
    dtype: torch.dtype,
) -> Agreement:
    """One row's agreement: `*_tokens` are its answer tokens, `*_logits` the [vocab] logits each
    token was chosen from, the reference's first."""
    steps = min(len(reference_tokens), len(tokens), len(reference_logits), len(logits))
    worst, allowed, within, first, tie = 0.0, 0.0, True, None, False
    for step in range(steps):
        expected, got = reference_logits[step].float(), logits[step].float()
        limit, difference = tolerance(dtype, expected), (expected - got).abs().max().item()
        worst, allowed, within = max(worst, difference), max(allowed, limit), within and difference <= limit
        if reference_tokens[step] != tokens[step]:
            top = expected.topk(2).values
            first, tie = step, (top[0] - top[1]).item() <= limit
            break
    if first is None and len(reference_tokens) != len(tokens):
        first = steps
    return Agreement(steps, first, tie, worst, allowed, within)


@dataclass
class DecodeCall:
    """One call of the fast loop: its inputs, its answers, and its head's logits at each step."""

    embeds: torch.Tensor
    lengths: list[int]
    budgets: list[int]
    braces: bool
    tokens: list[list[int]]
    logits: list[torch.Tensor]

    def row(self, row: int) -> list[torch.Tensor]:
        """Row `row`'s [vocab] logits at each of its steps."""
        return [step[row] for step in self.logits[: len(self.tokens[row])]]


class LogitRecorder:
    """The fast loop's decode calls, with the logits its head gives at prefill and at each step."""

    def __init__(self) -> None:
        self.calls: list[DecodeCall] = []

    @contextmanager
    def recording(self, decoder: FastDecoder) -> Iterator[LogitRecorder]:
        """Record `decoder`'s head while inside; each `decode` call adds one list of steps.
        Steps run eagerly (a captured graph would replay without calling the head)."""
        head, decode, steps = decoder.head, decoder.decode, dict(decoder.steps)

        logits: list[torch.Tensor] = []

        def recorded_head(hidden: torch.Tensor) -> torch.Tensor:
            out = head(hidden)
            logits.append(out.float().clone())
            return out

        def recorded_decode(
            embeds: torch.Tensor, lengths: Sequence[int], budgets: Sequence[int], braces: bool, *args, **kwargs
        ) -> list[list[int]]:
            logits.clear()
            tokens = decode(embeds, lengths, budgets, braces, *args, **kwargs)
            call = DecodeCall(
                embeds.clone(), list(lengths), list(budgets), braces, tokens, _steps(logits, len(lengths))
            )
            self.calls.append(call)
            return tokens

        decoder.head, decoder.decode = recorded_head, recorded_decode
        decoder.steps = {shape: _eager(decoder, shape) for shape in steps}
        try:
            yield self
        finally:
            decoder.head, decoder.decode, decoder.steps = head, decode, steps


def _steps(heads: list[torch.Tensor], rows: int) -> list[torch.Tensor]:
    """The head's outputs as one tensor a step: prefill calls the head once per chunk of rows
    (their rows add up to the batch's), each step once for the whole bucket."""
    chunks = 0
    while sum(head.shape[0] for head in heads[:chunks]) < rows:
        chunks += 1
    return [torch.cat(heads[:chunks]), *heads[chunks:]]


def _eager(decoder: FastDecoder, shape: tuple[int, int]) -> Callable[[], None]:
    size, window = shape
    return lambda: decoder._step(decoder.rows[size], window)


@torch.inference_mode()
def generate_with_logits(
    parts: ModelParts, call: DecodeCall, stop: StopRule
) -> tuple[list[list[int]], list[list[torch.Tensor]]]:
    """What `generate` answers to the fast loop's `call`: each row's tokens, stopped by the same
    rule, and its [vocab] logits at each step."""
    embeds, lengths = call.embeds, call.lengths
    prompt = embeds.shape[1]
    columns = torch.arange(prompt, device=embeds.device)
    mask = (columns[None, :] >= prompt - torch.tensor(lengths, device=embeds.device)[:, None]).long()
    out = parts.model.generate(
        inputs_embeds=embeds,
        attention_mask=mask,
        max_new_tokens=max(call.budgets),
        do_sample=False,
        eos_token_id=stop.stop_ids,
        pad_token_id=stop.pad_id,
        output_logits=True,
        return_dict_in_generate=True,
    )
    rows = zip(out.sequences, call.budgets, strict=True)
    tokens = [stop.answer(row.tolist(), budget, call.braces) for row, budget in rows]
    logits = [[step[row].float() for step in out.logits[: len(tokens[row])]] for row in range(len(lengths))]
    return tokens, logits


class CappedTask:
    """A task format whose answer budgets are cut to `steps` tokens: comparisons at full size on
    a CPU afford a few decode steps, not an answer's hundreds."""

    def __init__(self, task: TaskFormat, steps: int) -> None:
        self.task, self.steps = task, steps

    def __getattr__(self, name: str) -> Any:
        return getattr(self.task, name)

    def max_new_tokens(self, reference_text: str) -> list[int]:
        return [min(budget, self.steps) for budget in self.task.max_new_tokens(reference_text)]
