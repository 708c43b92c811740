"""The fast greedy decode loop: a static key/value cache, one captured step per shape, argmax on the device.

transformers' `generate` spends most of a step outside the model's arithmetic: a logits
processor pass over the 200k vocabulary, Python bookkeeping and a kernel launch per operation,
and attention that expands the grouped key/value heads and masks the whole static cache. Here:

- the cache is one block of device memory, shared out per batch size (rows × slots), filled by
  an eager prefill and then one slot per step;
- the one-token step (embedding, the decoder layers, the head, argmax and the stop rule) runs
  on static tensors, and on CUDA each (rows, window) shape is captured once as a CUDA graph at
  warm-up, so a step is one graph launch; elsewhere the same step runs eagerly;
- attention reads the grouped key/value heads as they are (the query heads of a group ride
  along the query-length axis of `scaled_dot_product_attention`) and only the window of slots
  filled so far, rounded up on the grid of `buckets.BucketPlan`;
- the batch ends when every row has finished (`stopping.StopRule`), checked once a step;
- capture and replay run with the decoder's own GPU as the current device, so `cuda:1` captures
  on device 1 (streams and graphs otherwise belong to the current device, 0).

The layers' own modules (norms, projections, MLP, rotary tables) do the arithmetic, so the
answers are `generate`'s; a test holds the two loops to the same tokens.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn
from transformers import Phi4MultimodalForCausalLM
from transformers.models.phi4_multimodal.modeling_phi4_multimodal import apply_rotary_pos_emb

from engines.phi4mm.buckets import BucketPlan
from engines.phi4mm.stopping import StopRule

log = logging.getLogger(__name__)

# Prompt tokens prefilled at once (rows × prompt length), which bounds prefill's activations.
PREFILL_TOKENS = 32768
# The most tokens an answer may have (the task formats cap their budgets at this).
MAX_NEW_TOKENS = 512


def grouped_attention(
    query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, bias: torch.Tensor, scale: float
) -> torch.Tensor:
    """Attention of `query` [batch, heads, length, dim] over grouped `keys`/`values`
    [batch, kv heads, slots, dim] without repeating them per query head: each group's query
    heads are stacked along the length axis. `bias` is additive, [batch, 1, heads per group ×
    length, slots] or broadcastable to it. Returns [batch, length, heads × dim]."""
    batch, heads, length, dim = query.shape
    groups = keys.shape[1]
    packed = query.reshape(batch, groups, heads // groups * length, dim)
    out = nn.functional.scaled_dot_product_attention(packed, keys, values, attn_mask=bias, scale=scale)
    return out.reshape(batch, heads, length, dim).transpose(1, 2).reshape(batch, length, heads * dim)


class NonFiniteCache(ValueError):
    """A batch's prefill made non-finite keys, values or first logits (an exotic input, an
    overflow). Its slots are zeroed again before this is raised: the cache is shared by every
    batch, and a masked slot still enters attention as 0 × its value, so one NaN left there
    would reach later, unrelated batches."""


@dataclass
class Timings:
    """Where an engine's time went, in seconds per stage, with its decode steps and answers."""

    features: float = 0.0
    encoder: float = 0.0
    prompts: float = 0.0
    prefill: float = 0.0
    decode: float = 0.0
    steps: int = 0
    answers: int = 0
    answer_tokens: int = 0


class _Rows:
    """The static tensors of one batch size: its share of the cache and the decoding state that
    a step reads and updates in place (a captured step replays on exactly these addresses)."""

    def __init__(self, decoder: FastDecoder, rows: int, length: int, storage: torch.Tensor) -> None:
        shape = (len(decoder.layers), 2, rows, decoder.kv_heads, length, decoder.head_dim)
        cache = storage[: torch.Size(shape).numel()].view(shape)
        self.rows, self.length = rows, length
        self.keys = [cache[layer, 0] for layer in range(shape[0])]
        self.values = [cache[layer, 1] for layer in range(shape[0])]
        device = storage.device
        self.key_bias = torch.full((rows, length), decoder.masked, dtype=storage.dtype, device=device)
        self.token = torch.zeros(rows, dtype=torch.long, device=device)
        self.position = torch.zeros(rows, dtype=torch.long, device=device)
        self.slot = torch.zeros(1, dtype=torch.long, device=device)
        self.step = torch.zeros(1, dtype=torch.long, device=device)
        self.tokens = torch.zeros(rows, MAX_NEW_TOKENS, dtype=torch.long, device=device)
        self.lengths = torch.zeros(rows, dtype=torch.long, device=device)
        self.finished = torch.ones(rows, dtype=torch.bool, device=device)
        self.opened = torch.zeros(rows, dtype=torch.bool, device=device)
        self.depth = torch.zeros(rows, dtype=torch.int32, device=device)
        self.remaining = torch.zeros(rows, dtype=torch.int32, device=device)
        self.braces = torch.zeros(1, dtype=torch.bool, device=device)

    def start(self, pad: int, prompt: int, lengths: Sequence[int], budgets: Sequence[int], braces: bool) -> None:
        """Reset the state for a batch of `len(lengths)` rows whose prompts fill `prompt` slots."""
        count = len(lengths)
        device = self.token.device
        self.token.fill_(pad)
        self.tokens.fill_(pad)
        self.lengths.zero_()
        self.opened.zero_()
        self.depth.zero_()
        self.finished.fill_(True)
        self.finished[:count] = False
        self.remaining.zero_()
        self.remaining[:count] = torch.tensor(budgets, dtype=torch.int32, device=device)
        self.position.zero_()
        self.position[:count] = torch.tensor(lengths, dtype=torch.long, device=device)
        self.slot.fill_(prompt)
        self.step.zero_()
        self.braces.fill_(braces)


class FastDecoder:
    """Greedy decoding of left-padded prompt embeddings in the shapes of a `BucketPlan`."""

    def __init__(
        self, model: Phi4MultimodalForCausalLM, stop: StopRule, plan: BucketPlan, capture: bool | None = None
    ) -> None:
        """`capture` records each step shape as a CUDA graph at warm-up (default: on CUDA)."""
        inner = model.model
        config = model.config
        self.layers = list(inner.layers)
        self.norm, self.embed, self.head = inner.norm, inner.embed_tokens, model.lm_head
        self.heads, self.kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.scale = self.layers[0].self_attn.scaling
        weight = self.embed.weight
        self.device, self.dtype = weight.device, weight.dtype
        self.masked = torch.finfo(self.dtype).min
        self.plan = plan
        self.stop = stop
        with torch.inference_mode():
            cos, sin = inner.rotary_emb(weight[:1], torch.arange(plan.max_context, device=self.device)[None])
        self.cos, self.sin = cos[0], sin[0]
        self.stop_ids, self.brace_deltas, self.pad = stop.tensors(self.device)
        self.capture = self.device.type == "cuda" if capture is None else capture
        self.rows: dict[int, _Rows] = {}
        self.steps: dict[tuple[int, int], Callable[[], None]] = {}
        self.shapes_run: Counter[tuple[int, int]] = Counter()
        self.warmup_seconds = 0.0
        self.cache_bytes = 0

    def _on_device(self) -> AbstractContextManager[object]:
        """The decoder's GPU as the current device: streams, graphs and replays act on the current one."""
        return torch.cuda.device(self.device) if self.device.type == "cuda" else nullcontext()

    @torch.inference_mode()
    def warm_up(self) -> None:
        """Reserve the cache and make every step shape of the plan ready (captured on CUDA);
        after this, decoding never captures or compiles anything."""
        started = time.perf_counter()
        sizes = self.plan.batch_sizes
        slots = max(size * self.plan.cache_length(size) for size in sizes)
        per_slot = len(self.layers) * 2 * self.kv_heads * self.head_dim
        # Zeroed, not empty: a masked slot still multiplies its value by zero, and NaN garbage times zero is NaN.
        storage = torch.zeros(slots * per_slot, dtype=self.dtype, device=self.device)
        self.cache_bytes = storage.numel() * storage.element_size()
        self.rows = {size: _Rows(self, size, self.plan.cache_length(size), storage) for size in sizes}
        shapes = self.plan.shapes()
        pool = torch.cuda.graph_pool_handle() if self.capture else None
        log.info(
            "decode warm-up: %d step shapes (batch sizes %s, windows up to %d), cache of %.1f GiB",
            len(shapes),
            ",".join(map(str, sizes)),
            max(window for _, window in shapes),
            self.cache_bytes / 2**30,
        )
        for done, (size, window) in enumerate(shapes, 1):
            rows = self.rows[size]
            if self.capture:
                self.steps[size, window] = self._graph(rows, window, pool)
                if done % 16 == 0 or done == len(shapes):
                    elapsed = time.perf_counter() - started
                    log.info("decode warm-up: %d/%d shapes captured in %.1f s", done, len(shapes), elapsed)
            else:
                self.steps[size, window] = partial(self._step, rows, window)
        self.warmup_seconds = time.perf_counter() - started
        log.info("decode warm-up done in %.1f s", self.warmup_seconds)

    def _graph(self, rows: _Rows, window: int, pool: tuple[int, int] | None) -> Callable[[], None]:
        """The step of `rows` over `window` slots, captured as a CUDA graph on the decoder's
        device; returns its replay, which launches on that device whatever the current one."""
        with self._on_device():
            rows.start(int(self.pad), 0, [], [], braces=False)
            stream = torch.cuda.Stream(device=self.device)
            stream.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(stream):  # kernels initialise their workspaces before capture
                for _ in range(2):
                    self._step(rows, window)
                    rows.start(int(self.pad), 0, [], [], braces=False)
            torch.cuda.current_stream(self.device).wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=pool, stream=stream):  # not a stream of whichever device came first
                self._step(rows, window)

        def replay() -> None:
            with self._on_device():
                graph.replay()

        return replay

    def _project(
        self, attention: nn.Module, hidden: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys and values of `hidden` [batch, length, hidden], rotated, as the native attention makes them."""
        batch, length, _ = hidden.shape
        qkv = attention.qkv_proj(hidden)
        queries = self.heads * self.head_dim
        keys = self.kv_heads * self.head_dim
        query = qkv[..., :queries].view(batch, length, -1, self.head_dim).transpose(1, 2)
        key = qkv[..., queries : queries + keys].view(batch, length, -1, self.head_dim).transpose(1, 2)
        value = qkv[..., queries + keys :].view(batch, length, -1, self.head_dim).transpose(1, 2)
        query, key = apply_rotary_pos_emb(query, key, cos, sin)
        return query, key, value

    def _advance(self, rows: _Rows, token: torch.Tensor) -> None:
        """Record each row's next token and apply the stop rule; finished rows emit padding."""
        token = torch.where(rows.finished, self.pad, token)
        rows.tokens.index_copy_(1, rows.step, token[:, None])
        rows.lengths += (~rows.finished).long()
        rows.depth += self.brace_deltas[token]
        rows.opened |= rows.depth > 0
        rows.remaining -= 1
        closed = rows.opened & (rows.depth <= 0) & rows.braces
        stopped = (token[:, None] == self.stop_ids).any(-1)
        rows.finished |= stopped | closed | (rows.remaining <= 0)
        rows.token.copy_(token)
        rows.step += 1

    def _step(self, rows: _Rows, window: int) -> None:
        """One token for every row: read `rows.token` at `rows.slot`, write the next one back."""
        hidden = self.embed(rows.token)[:, None]
        cos, sin = self.cos[rows.position][:, None], self.sin[rows.position][:, None]
        rows.key_bias.index_fill_(1, rows.slot, 0.0)
        bias = rows.key_bias[:, None, None, :window]
        for index, layer in enumerate(self.layers):
            attention = layer.self_attn
            query, key, value = self._project(attention, layer.input_layernorm(hidden), cos, sin)
            keys, values = rows.keys[index], rows.values[index]
            keys.index_copy_(2, rows.slot, key)
            values.index_copy_(2, rows.slot, value)
            out = grouped_attention(query, keys[:, :, :window], values[:, :, :window], bias, self.scale)
            hidden = hidden + attention.o_proj(out)
            hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
        self._advance(rows, self.head(self.norm(hidden[:, -1])).argmax(-1))
        rows.position += 1
        rows.slot += 1

    def _prefill(self, rows: _Rows, embeds: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the left-padded prompts, fill the cache's first slots, and return each row's first
        token and whether every key, value and first logit was finite (a flag on the device)."""
        count, prompt, _ = embeds.shape
        columns = torch.arange(prompt, device=self.device)
        padding = prompt - lengths
        valid = columns[None, :] >= padding[:, None]
        positions = (columns[None, :] - padding[:, None]).clamp(min=0)
        causal = columns[None, :] <= columns[:, None]
        groups = self.heads // self.kv_heads
        first = torch.empty(count, dtype=torch.long, device=self.device)
        finite = torch.ones((), dtype=torch.bool, device=self.device)
        step = max(1, PREFILL_TOKENS // prompt)
        for start in range(0, count, step):
            end = min(start + step, count)
            allowed = valid[start:end, None, :] & causal[None]
            bias = torch.zeros(allowed.shape, dtype=self.dtype, device=self.device).masked_fill_(~allowed, self.masked)
            bias = bias[:, None].repeat(1, 1, groups, 1)
            cos, sin = self.cos[positions[start:end]], self.sin[positions[start:end]]
            hidden = embeds[start:end]
            for index, layer in enumerate(self.layers):
                attention = layer.self_attn
                query, key, value = self._project(attention, layer.input_layernorm(hidden), cos, sin)
                rows.keys[index][start:end, :, :prompt] = key
                rows.values[index][start:end, :, :prompt] = value
                finite &= torch.isfinite(key).all() & torch.isfinite(value).all()
                hidden = hidden + attention.o_proj(grouped_attention(query, key, value, bias, self.scale))
                hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
            logits = self.head(self.norm(hidden[:, -1]))
            finite &= torch.isfinite(logits).all()
            first[start:end] = logits.argmax(-1)
        rows.key_bias.fill_(self.masked)
        rows.key_bias[:count, :prompt].masked_fill_(valid, 0.0)
        return first, finite

    def _synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @torch.inference_mode()
    def decode(
        self,
        embeds: torch.Tensor,
        lengths: Sequence[int],
        budgets: Sequence[int],
        braces: bool,
        timings: Timings | None = None,
    ) -> list[list[int]]:
        """Each row's answer tokens for left-padded prompt `embeds` [rows, prompt, hidden] whose
        rows hold `lengths` real tokens, each row stopping by `StopRule` within its budget;
        prefill and decode time and the steps taken are added to `timings`. Raises
        `NonFiniteCache` (leaving the cache clean) when the prefill is not finite."""
        if not self.rows:
            raise RuntimeError("the decoder is not warmed up")
        count, prompt, _ = embeds.shape
        size = self.plan.batch_size(count)
        rows = self.rows[size]
        if prompt + max(budgets) > rows.length or max(budgets) > MAX_NEW_TOKENS:
            raise ValueError(f"{count} rows of {prompt} + {max(budgets)} tokens do not fit the cache")
        started = time.perf_counter()
        rows.start(int(self.pad), prompt, lengths, budgets, braces)
        first, finite = self._prefill(rows, embeds.to(self.dtype), torch.tensor(lengths, device=self.device))
        if not bool(finite):
            for keys, values in zip(rows.keys, rows.values, strict=True):
                keys[:count, :, :prompt].zero_()
                values[:count, :, :prompt].zero_()
            raise NonFiniteCache(f"a batch of {count} rows made non-finite keys, values or logits in prefill")
        token = torch.full((size,), int(self.pad), dtype=torch.long, device=self.device)
        token[:count] = first
        self._advance(rows, token)
        self._synchronize()
        prefilled = time.perf_counter()
        for offset in range(1, max(budgets)):
            if bool(rows.finished.all()):
                break
            shape = (size, self.plan.window(prompt + offset))
            step = self.steps.get(shape)
            if step is None:
                raise RuntimeError(f"decode shape {shape} was not warmed up")
            step()
            self.shapes_run[shape] += 1
            if timings is not None:
                timings.steps += 1
        tokens, counts = rows.tokens[:count].tolist(), rows.lengths[:count].tolist()
        if timings is not None:
            timings.prefill += prefilled - started
            timings.decode += time.perf_counter() - prefilled
        return [row[:length] for row, length in zip(tokens, counts, strict=True)]
