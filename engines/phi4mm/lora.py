"""The speech LoRA: where it sits in Phi-4-multimodal, its size, and the files of an adapter.

Training builds adapters with this configuration and serving finds them by these names, so
both sides agree on one definition.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from peft import LoraConfig

# Phi-4-multimodal ships its speech LoRA in this subfolder of the base checkpoint.
BASE_SPEECH_ADAPTER = "speech-lora"
# With `--variant unfreeze`, the trained audio encoder and projector are saved beside the adapter.
AUDIO_WEIGHTS = "audio_embed.safetensors"
# What an adapter was trained on: base model, data, task format, hyperparameters, weights' sha256.
ADAPTER_MANIFEST = "pronscore-adapter.json"

# The speech LoRA sits on the language model's projections only: every layer's qkv_proj,
# o_proj, gate_up_proj and down_proj.
SPEECH_LORA_TARGETS = r"model\.layers\.\d+\.(self_attn\.(qkv_proj|o_proj)|mlp\.(gate_up_proj|down_proj))"
SPEECH_LORA_RANK = 320  # Phi-4-multimodal's own: r=320, alpha=640, dropout 0.01


def speech_lora_config(rank: int = SPEECH_LORA_RANK) -> LoraConfig:
    return LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.01, target_modules=SPEECH_LORA_TARGETS)


def adapter_sha256(adapter_dir: Path) -> str:
    """sha256 of the adapter's weight files, so a model version names exactly what ran."""
    digest = hashlib.sha256()
    weights = sorted(adapter_dir.glob("*.safetensors")) or sorted(adapter_dir.glob("*.bin"))
    if not weights:
        raise FileNotFoundError(f"no adapter weights (*.safetensors) in {adapter_dir}")
    for path in weights:
        digest.update(path.read_bytes())
    return digest.hexdigest()
