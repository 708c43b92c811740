"""Phi-4-multimodal's real architecture, defined once: the values, the cached config.json, the scaled copy."""

from pathlib import Path

import pytest
import torch

from engines.phi4mm.architecture import (
    HUB_MODEL,
    HUB_REVISION,
    LONG_FACTOR,
    real_config,
    scaled_config,
    written_config,
)
from engines.phi4mm.loading import ModelParts
from engines.phi4mm.spec import Phi4Settings


def _geometry(config) -> dict[str, object]:
    rope = config.rope_parameters
    return {
        "head_dim": config.hidden_size // config.num_attention_heads,
        "queries_per_kv_head": config.num_attention_heads // config.num_key_value_heads,
        "rope": rope["rope_type"],
        "partial_rotary_factor": rope["partial_rotary_factor"],
        "long_factor": tuple(rope["long_factor"]),
        "short_factor": tuple(rope["short_factor"]),
        "original_max_position_embeddings": config.original_max_position_embeddings,
        "tied": config.tie_word_embeddings,
        "sliding_window": config.sliding_window,
        "audio_bias_max_distance": config.audio_config.bias_max_distance,
        "audio_head_dim": config.audio_config.hidden_size // config.audio_config.num_attention_heads,
        "audio_time_reduction": config.audio_config.time_reduction,
    }


def test_the_written_values_are_phi4_multimodal_instruct() -> None:
    config = written_config()
    assert (config.hidden_size, config.num_hidden_layers, config.vocab_size) == (3072, 32, 200064)
    assert (config.num_attention_heads, config.num_key_value_heads) == (24, 8)
    assert _geometry(config) == {
        "head_dim": 128,
        "queries_per_kv_head": 3,
        "rope": "longrope",
        "partial_rotary_factor": 0.75,
        "long_factor": LONG_FACTOR,
        "short_factor": (1.0,) * 48,
        "original_max_position_embeddings": 4096,
        "tied": True,
        "sliding_window": 262144,
        "audio_bias_max_distance": 500,
        "audio_head_dim": 64,
        "audio_time_reduction": 8,
    }
    assert len(LONG_FACTOR) == 128 * 3 // 4 // 2, "one factor per rotated pair of dimensions"


@pytest.mark.parametrize("hidden", [384, 768])
def test_the_scaled_copy_keeps_every_ratio_of_the_real_one(real_geometry, hidden: int) -> None:
    tokenizer = real_geometry[torch.float32].tokenizer
    config = scaled_config(tokenizer, hidden=hidden)
    assert _geometry(config) == _geometry(written_config())
    assert config.num_key_value_heads == hidden // 384
    assert config.vocab_size == len(tokenizer)
    assert config.audio_config.audio_token_id == tokenizer.convert_tokens_to_ids("<|endoftext11|>")


def test_a_width_that_breaks_the_head_groups_is_refused(real_geometry) -> None:
    with pytest.raises(ValueError, match="3-head groups"):
        scaled_config(real_geometry[torch.float32].tokenizer, hidden=512)


def test_a_cached_config_json_is_read_before_the_written_values(tmp_path: Path) -> None:
    cached = written_config()
    cached.num_hidden_layers = 31  # a value the written ones do not have, to see which was read
    cached.save_pretrained(tmp_path)
    config, source = real_config(str(tmp_path), None)
    assert config.num_hidden_layers == 31 and "config.json" in source


def test_without_a_cached_config_json_the_written_values_are_used() -> None:
    config, source = real_config("pronscore-tests/not-in-any-cache", None)  # the tests run offline
    assert config.to_dict() == written_config().to_dict()
    assert "written" in source


def test_the_hub_checkpoint_is_the_one_the_engine_serves_by_default() -> None:
    fields = Phi4Settings.model_fields
    assert (fields["model"].default, fields["model_revision"].default) == (HUB_MODEL, HUB_REVISION)


def test_random_weights_carry_a_trained_encoders_audio_statistics(real_geometry) -> None:
    """Zero conv biases and an identity mean/variance norm keep a padded frame zero through
    subsampling, so a padding leak could not show; a trained encoder has neither."""
    parts: ModelParts = real_geometry[torch.float32]
    encoder = parts.model.model.embed_tokens_extend.audio_embed.encoder
    convolutions = [layer for layer in encoder.embed.conv if isinstance(layer, torch.nn.Conv2d)]
    assert convolutions and all(layer.bias.abs().min() > 0 for layer in convolutions)
    norm = encoder.encoder_embedding
    assert 5 < norm.global_mean.mean().item() < 15
    assert not torch.allclose(norm.global_invstd, torch.ones_like(norm.global_invstd))
    assert parts.model.lm_head.weight is parts.model.model.embed_tokens.weight, "the head is tied"


class _Built(Exception):
    """Raised in place of building a full-size model: the test only needs its configuration."""


@pytest.mark.parametrize("benchmark", ["gpu_throughput", "train_step"])
def test_the_gpu_benchmarks_build_the_real_architecture(benchmark: str, monkeypatch) -> None:
    import argparse
    import importlib

    module = importlib.import_module(f"benchmarks.{benchmark}")
    built = []

    def capture(config, dtype, device="cpu", seed=0):
        built.append((config, dtype))
        raise _Built

    monkeypatch.setattr(module, "random_model", capture)
    args = argparse.Namespace(model=None, device="cpu", format="joint-v1", loop="fast", cache_tokens=None, seed=0)
    with pytest.raises(_Built):
        if benchmark == "gpu_throughput":
            module.build_engine(args, [1])
        else:
            module.build(args, torch.device("cpu"), torch.bfloat16)
    ((config, dtype),) = built
    assert dtype == torch.bfloat16
    assert _geometry(config) == _geometry(written_config())
    assert (config.hidden_size, config.num_hidden_layers, config.vocab_size) == (3072, 32, 200064)
