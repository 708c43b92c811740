"""Goodness-of-pronunciation scoring on a CPU with the models the pocketsphinx wheel ships."""

from engines.gop.engine import GopConfig, GopEngine, gop_config

__all__ = ["GopConfig", "GopEngine", "gop_config"]
