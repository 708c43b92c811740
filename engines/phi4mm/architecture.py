"""Phi-4-multimodal-instruct's real architecture, defined once, and a scaled-down copy of it.

Benchmarks of random weights and the tests that check full-size behaviour on a CPU must build
the geometry the engine will meet on a GPU, not transformers' defaults (32 × 96 heads, plain
RoPE over every dimension, an untied head, no sliding window, audio `bias_max_distance` 1000):
the real model has 24 heads of 128 dimensions over 8 key/value heads, LongRoPE over 96 of them
with its own long and short factors, a head tied to the embeddings, a sliding window and an
audio relative-position bias of 500. `real_config` reads the checkpoint's `config.json` when it
is cached and falls back on those values written here; `scaled_config` keeps every ratio at a
size a CPU runs in seconds. Random weights get the audio statistics of a trained encoder from
`random_model` (non-zero convolution biases, a log-mel mean and scale, norms that are not the
identity), without which a padded frame stays zero through subsampling and a leak cannot show.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from transformers import Phi4MultimodalConfig, Phi4MultimodalForCausalLM

log = logging.getLogger(__name__)

HUB_MODEL = "microsoft/Phi-4-multimodal-instruct"
HUB_REVISION = "refs/pr/70"  # the transformers-native weights, as the engine's settings default to

# Phi-4-mini's LongRoPE factors, one per rotated pair (128 × 0.75 / 2 = 48).
LONG_FACTOR = (
    1.0, 1.118320672, 1.250641126, 1.398617824, 1.564103225, 1.74916897, 1.956131817, 2.187582649,
    2.446418898, 2.735880826, 3.059592084, 3.421605075, 3.826451687, 4.279200023, 4.785517845,
    5.351743533, 5.984965424, 6.693110555, 7.485043894, 8.370679318, 9.36110372, 10.4687158,
    11.70738129, 13.09260651, 14.64173252, 16.37415215, 18.31155283, 20.47818807, 22.90118105,
    25.61086418, 28.64115884, 32.03, 32.1, 32.13, 32.23, 32.6, 32.61, 32.64, 32.66, 32.7, 32.71,
    32.93, 32.97, 33.28, 33.49, 33.5, 44.16, 47.77,
)  # fmt: skip
SHORT_FACTOR = (1.0,) * 48

# The language model's values in Phi-4-multimodal-instruct's config.json.
TEXT = {
    "vocab_size": 200064,
    "hidden_size": 3072,
    "intermediate_size": 8192,
    "num_hidden_layers": 32,
    "num_attention_heads": 24,
    "num_key_value_heads": 8,
    "hidden_act": "silu",
    "max_position_embeddings": 131072,
    "original_max_position_embeddings": 4096,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "partial_rotary_factor": 0.75,
    "sliding_window": 262144,
    "tie_word_embeddings": True,
    "bos_token_id": 199999,
    "eos_token_id": 199999,
    "pad_token_id": 199999,
}
# The audio encoder's (a Conformer after NeMo subsampling); transformers' defaults but for the bias distance.
AUDIO = {
    "hidden_size": 1024,
    "intermediate_size": 1536,
    "num_blocks": 24,
    "num_attention_heads": 16,
    "nemo_conv_channels": 1024,
    "ext_pw_out_channel": 1024,
    "depthwise_separable_out_channel": 1024,
    "time_reduction": 8,
    "input_size": 80,
    "left_chunk": 18,
    "chunk_size": -1,
    "bias_max_distance": 500,
    "bias_symmetric": False,
    "audio_token_id": 200011,
}
HEAD_DIM = TEXT["hidden_size"] // TEXT["num_attention_heads"]
QUERIES_PER_KV_HEAD = TEXT["num_attention_heads"] // TEXT["num_key_value_heads"]


def _config(text: dict[str, Any], audio: dict[str, Any], vision: dict[str, Any] | None = None) -> Phi4MultimodalConfig:
    rope = {"type": "longrope", "short_factor": list(SHORT_FACTOR), "long_factor": list(LONG_FACTOR)}
    return Phi4MultimodalConfig(**text, rope_scaling=rope, audio_config=audio, vision_config=vision)


def written_config() -> Phi4MultimodalConfig:
    """The real architecture from the values written in this module."""
    return _config(TEXT, AUDIO)


def real_config(model: str = HUB_MODEL, revision: str | None = HUB_REVISION) -> tuple[Phi4MultimodalConfig, str]:
    """The real architecture and where it came from: the checkpoint's own `config.json` when the
    hub cache holds it (nothing is downloaded), else `written_config`."""
    try:
        config = Phi4MultimodalConfig.from_pretrained(model, revision=revision, local_files_only=True)
    except (OSError, ValueError, KeyError) as error:
        log.info("no cached config.json of %s@%s (%s): using the values written in pronscore", model, revision, error)
        return written_config(), "values written in engines/phi4mm/architecture.py"
    return config, f"config.json of {model}@{revision} in the hub cache"


def scaled_config(tokenizer: Any, hidden: int = 768, layers: int = 2) -> Phi4MultimodalConfig:
    """The real architecture at `hidden` width (a multiple of 384) with `tokenizer`'s vocabulary:
    128-dimension heads, 3 query heads per key/value head, LongRoPE with the real factors over 96
    of 128 dimensions, a tied head and the sliding window; an audio encoder of the same kind, two
    blocks deep."""
    if hidden % (HEAD_DIM * QUERIES_PER_KV_HEAD):
        raise ValueError(f"hidden size {hidden} is not a whole number of {QUERIES_PER_KV_HEAD}-head groups")
    heads = hidden // HEAD_DIM
    text = TEXT | {
        "vocab_size": len(tokenizer),
        "hidden_size": hidden,
        "intermediate_size": hidden * TEXT["intermediate_size"] // TEXT["hidden_size"],
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": heads // QUERIES_PER_KV_HEAD,
        "bos_token_id": tokenizer.bos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    audio = AUDIO | {
        "hidden_size": 128,
        "intermediate_size": 192,
        "num_blocks": 2,
        "num_attention_heads": 2,  # 64 dimensions a head, as in the real encoder
        "nemo_conv_channels": 128,
        "ext_pw_out_channel": 128,
        "depthwise_separable_out_channel": 128,
    }
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}
    return with_tokens(_config(text, audio, vision), tokenizer)


def with_tokens(config: Phi4MultimodalConfig, tokenizer: Any) -> Phi4MultimodalConfig:
    """`config` with its special token ids those of `tokenizer` (an offline stand-in for Phi-4's),
    its vocabulary at least the tokenizer's."""
    config.vocab_size = max(config.vocab_size, len(tokenizer))
    config.bos_token_id = tokenizer.bos_token_id
    config.eos_token_id = [tokenizer.convert_tokens_to_ids("<|end|>"), tokenizer.eos_token_id]
    config.pad_token_id = tokenizer.pad_token_id
    config.audio_config.audio_token_id = tokenizer.convert_tokens_to_ids("<|endoftext11|>")
    config.vision_config.image_token_id = tokenizer.convert_tokens_to_ids("<|endoftext10|>")
    return config


@torch.no_grad()
def trained_audio_statistics(model: Phi4MultimodalForCausalLM, generator: torch.Generator) -> None:
    """Give a random audio encoder what training gives a real one and random initialisation does
    not: a per-bin log-mel mean (about 10) and scale, non-zero convolution biases, and layer norms
    that are not the identity. Zero padding then stops being zero after the first layer."""
    encoder = model.model.embed_tokens_extend.audio_embed.encoder
    norm = encoder.encoder_embedding
    norm.global_mean.copy_(10 + 2 * torch.randn(norm.global_mean.shape, generator=generator))
    norm.global_invstd.copy_(0.2 + 0.3 * torch.rand(norm.global_invstd.shape, generator=generator))
    for module in encoder.modules():
        if isinstance(module, torch.nn.Conv2d | torch.nn.Conv1d) and module.bias is not None:
            module.bias.copy_(0.5 * torch.randn(module.bias.shape, generator=generator))
        elif isinstance(module, torch.nn.LayerNorm):
            module.weight.copy_(0.5 + torch.rand(module.weight.shape, generator=generator))
            module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=generator))


def random_model(
    config: Phi4MultimodalConfig, dtype: torch.dtype, device: torch.device | str = "cpu", seed: int = 0
) -> Phi4MultimodalForCausalLM:
    """Random weights of `config`, built directly in `dtype` on `device` (full size in bfloat16
    is about 11 GB, never materialised in float32), with a trained encoder's audio statistics."""
    torch.manual_seed(seed)
    with torch.device(device):
        model = Phi4MultimodalForCausalLM._from_config(config, dtype=dtype)
    generator = torch.Generator().manual_seed(seed)
    trained_audio_statistics(model, generator)
    return model.eval()
