"""The model engines: what turns recordings into assessments, behind one small interface.

The worker, training, the command line and the benchmarks import engines from here; the
engines import nothing of theirs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engines.base import Engine, EngineVersion, ScoringItem, score_in_chunks

if TYPE_CHECKING:
    from pronscore.settings import Settings

__all__ = ["Engine", "EngineVersion", "ScoringItem", "load_engine", "score_in_chunks"]


def load_engine(settings: Settings, **overrides: Any) -> Engine:
    """The engine the settings name, loaded and ready; `overrides` replace single settings
    (a command line's --model, --adapter, --task-format, --device)."""
    from engines.phi4mm import Phi4Engine, phi4_config

    return Phi4Engine(phi4_config(settings, **overrides))
