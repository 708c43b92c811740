"""Loading Phi-4-multimodal: tokenizer, audio features and weights, with a speech LoRA merged.

transformers' `Phi4MultimodalProcessor` also needs the image processor, which needs
torchvision; pronscore sends audio only, so it pairs the feature extractor with the tokenizer
itself (see `engines.phi4mm.inputs`) and never builds that processor.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoTokenizer, Phi4MultimodalFeatureExtractor, Phi4MultimodalForCausalLM
from transformers.utils import logging as hf_logging

from engines.phi4mm.lora import AUDIO_WEIGHTS, BASE_SPEECH_ADAPTER, adapter_sha256

# Set in the config of the tiny test checkpoint; everything it produces is marked meaningless.
TINY_MARKER = "pronscore_tiny_checkpoint"


@dataclass(frozen=True)
class ModelParts:
    """The pieces of a loaded checkpoint that turn audio and a prompt into embeddings."""

    model: Phi4MultimodalForCausalLM | PeftModel
    tokenizer: Any
    features: Phi4MultimodalFeatureExtractor

    @property
    def audio_token(self) -> str:
        return self.tokenizer.convert_ids_to_tokens(self.model.config.audio_config.audio_token_id)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return getattr(torch, dtype)


def hub_revision(model: str, revision: str | None) -> str | None:
    """A revision applies to hub ids only; a local directory is what it is."""
    return None if Path(model).is_dir() else revision


def _quiet_loading() -> None:
    """Loading progress bars and peft's use of a deprecated transformers name are noise to operators."""
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


def load_parts(model: str, revision: str | None, device: torch.device, dtype: torch.dtype) -> ModelParts:
    """Tokenizer, audio feature extractor and model of a checkpoint (a hub id or a directory)."""
    _quiet_loading()
    tokenizer = AutoTokenizer.from_pretrained(model, revision=revision)
    features = Phi4MultimodalFeatureExtractor.from_pretrained(model, revision=revision)
    network = Phi4MultimodalForCausalLM.from_pretrained(
        model, revision=revision, dtype=dtype, attn_implementation="sdpa"
    ).to(device)
    return ModelParts(network, tokenizer, features)


def has_base_speech_adapter(model: str) -> bool:
    """Whether the base checkpoint carries its own speech LoRA (hub checkpoints always do)."""
    local = Path(model)
    return (local / BASE_SPEECH_ADAPTER).is_dir() or not local.exists()


def merge_speech_adapter(
    network: Phi4MultimodalForCausalLM, model: str, revision: str | None, adapter: str | None, device: torch.device
) -> tuple[Phi4MultimodalForCausalLM, str | None]:
    """Merge our fine-tuned speech LoRA when given, else the base model's own speech LoRA;
    returns the merged network and the adapter's sha256 (None for the base's own).

    Merged weights serve faster than a LoRA applied on every forward pass.
    """
    if adapter:
        path = Path(adapter)
        if not (path / "adapter_config.json").is_file():
            raise FileNotFoundError(f"no peft adapter (adapter_config.json) in {path}")
        network = PeftModel.from_pretrained(network, str(path)).merge_and_unload()
        audio = path / AUDIO_WEIGHTS
        if audio.is_file():  # trained with --variant unfreeze: the audio encoder and projector too
            network.model.embed_tokens_extend.audio_embed.load_state_dict(load_file(audio, device=str(device)))
        return network, adapter_sha256(path)
    if has_base_speech_adapter(model):
        location = {"subfolder": BASE_SPEECH_ADAPTER} | ({"revision": revision} if revision else {})
        network = PeftModel.from_pretrained(network, model, **location).merge_and_unload()
    return network, None
