"""Phi-4-multimodal-instruct with a speech LoRA, through transformers' native implementation."""

from engines.phi4mm.engine import Phi4Config, Phi4Engine, phi4_config

__all__ = ["Phi4Config", "Phi4Engine", "phi4_config"]
