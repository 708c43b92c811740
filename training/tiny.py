"""A tiny random-weight Phi-4-multimodal checkpoint for tests and smoke runs.

Same architecture and files as the real model (config, safetensors weights, tokenizer,
feature extractor, a `speech-lora/` peft adapter), loaded by exactly the engine's code path,
small enough for a CPU. Random weights would only ever emit gibberish, so a few hundred
optimisation steps on noise audio teach it the answer *format*: it then writes parseable
JSON whose scores and transcripts mean nothing. Its config carries a marker, and every
assessment it produces says `"meaningless": true`.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from peft import get_peft_model
from transformers import (
    Phi4MultimodalConfig,
    Phi4MultimodalFeatureExtractor,
    Phi4MultimodalForCausalLM,
    PreTrainedTokenizerFast,
)

from engines.phi4mm.loading import TINY_MARKER, ModelParts
from engines.phi4mm.lora import BASE_SPEECH_ADAPTER, speech_lora_config
from scoring.audio import SAMPLE_RATE
from scoring.formats import FORMATS
from scoring.speechocean import RatedUtterance, parse_utterance
from training.examples import audio_embeddings, collate, supervised_example
from training.tokenizer import build_tokenizer

log = logging.getLogger(__name__)

TINY_LORA_RANK = 8


Progress = Callable[[int, int], None]


def _utterances(labels: Path | None) -> list[RatedUtterance]:
    """The labels' utterances; None means the one built-in utterance, and only then (a missing
    labels file is an error, so a checkpoint is never taught from one sentence by accident)."""
    if labels is not None:
        if not labels.is_file():
            raise FileNotFoundError(f"no labels file at {labels}")
        return [parse_utterance(json.loads(line)) for line in labels.read_text().splitlines() if line.strip()]
    record = {
        "utt": "tiny", "text": "WE CALL IT BEAR", "accuracy": 8, "fluency": 9, "prosodic": 9, "total": 8,
        "words": [
            {"text": "WE", "phones": ["W", "IY0"]}, {"text": "CALL", "phones": ["K", "AO0", "L"]},
            {"text": "IT", "phones": ["IH0", "T"]}, {"text": "BEAR", "phones": ["B", "EH0", "R"]},
        ],
    }  # fmt: skip
    return [parse_utterance(record)]


def tiny_config(tokenizer: PreTrainedTokenizerFast) -> Phi4MultimodalConfig:
    hidden = 96
    config = Phi4MultimodalConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        original_max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=[tokenizer.convert_tokens_to_ids("<|end|>"), tokenizer.eos_token_id],
        pad_token_id=tokenizer.pad_token_id,
        audio_config={
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_blocks": 2,
            "num_attention_heads": 4,
            "ext_pw_out_channel": 64,
            "depthwise_separable_out_channel": 64,
            "nemo_conv_channels": 64,
            "audio_token_id": tokenizer.convert_tokens_to_ids("<|endoftext11|>"),
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_token_id": tokenizer.convert_tokens_to_ids("<|endoftext10|>"),
        },
    )
    setattr(config, TINY_MARKER, True)
    return config


def _teach_format(
    parts: ModelParts, utterances: list[RatedUtterance], steps: int, seed: int, progress: Progress | None
) -> float:
    """Teacher-force the answers of both task formats on noise audio; returns the last loss."""
    rng = np.random.default_rng(seed)
    pool = [
        (turn.chat(), target)
        for task in FORMATS.values()
        for utterance in utterances
        for turn, target in zip(task.turns(utterance.text), task.targets(utterance), strict=True)
    ]
    random.Random(seed).shuffle(pool)
    optimizer = torch.optim.AdamW([p for p in parts.model.parameters() if p.requires_grad], lr=3e-3)
    parts.model.train()
    loss = torch.tensor(float("nan"))
    for step in range(steps):
        batch = [pool[(step * 8 + k) % len(pool)] for k in range(8)]
        noise = [rng.standard_normal(int(SAMPLE_RATE * rng.uniform(1, 3))).astype(np.float32) * 0.1 for _ in batch]
        examples = [
            supervised_example(parts, audio_embeddings(parts, samples), p, t)
            for samples, (p, t) in zip(noise, batch, strict=True)
        ]
        loss = parts.model(**collate(examples)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0:
            log.info("teaching the answer format: step %d loss %.3f", step, loss.item())
        if progress is not None:
            progress(step + 1, steps)
    parts.model.eval()
    return float(loss.item())


def write_tiny_checkpoint(
    out: Path, labels: Path | None = None, teach_steps: int = 300, seed: int = 0, progress: Progress | None = None
) -> float | None:
    """Write the checkpoint to `out`; returns the final teaching loss (None when untaught).

    `labels` is a speechocean762 JSON Lines file whose answers it imitates (None: one built-in
    utterance); `progress(step, steps)` is called after each teaching step."""
    torch.manual_seed(seed)
    utterances = _utterances(labels)
    tokenizer = build_tokenizer(utterances)
    base = Phi4MultimodalForCausalLM(tiny_config(tokenizer))
    features = Phi4MultimodalFeatureExtractor()
    model = get_peft_model(base, speech_lora_config(rank=TINY_LORA_RANK))
    loss = None
    if teach_steps > 0:
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        loss = _teach_format(ModelParts(model, tokenizer, features), utterances, teach_steps, seed, progress)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out / BASE_SPEECH_ADAPTER))
    base = model.unload()
    base.generation_config.eos_token_id = base.config.eos_token_id
    base.generation_config.pad_token_id = base.config.pad_token_id
    base.save_pretrained(out)
    tokenizer.save_pretrained(out)
    features.save_pretrained(out)
    (out / "README.md").write_text(
        "# pronscore tiny checkpoint\n\nRandom weights taught only the answer format. "
        "Its scores and transcripts mean nothing; use it for tests and smoke runs.\n"
    )
    return loss
