"""Phi-4-multimodal-instruct with a speech LoRA, through transformers' native implementation.

The registry reads `spec` alone; the engine's classes import torch, so they are imported on
first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engines.phi4mm.engine import Phi4Config, Phi4Engine, phi4_config

__all__ = ["Phi4Config", "Phi4Engine", "phi4_config"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module("engines.phi4mm.engine"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
