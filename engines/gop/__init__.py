"""Goodness-of-pronunciation scoring on a CPU with the models the pocketsphinx wheel ships.

The registry reads `spec` alone; the engine's classes load the decoder, so they are imported
on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engines.gop.engine import GopConfig, GopEngine, gop_config

__all__ = ["GopConfig", "GopEngine", "gop_config"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module("engines.gop.engine"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
