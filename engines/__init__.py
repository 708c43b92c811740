"""The model engines: what turns recordings into assessments, behind one small interface.

The worker, training, the command line and the benchmarks import engines from here; the
engines import nothing of theirs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engines.base import Engine, EngineVersion, ScoringItem
from engines.scheduling import score_in_chunks

if TYPE_CHECKING:
    from pronscore.settings import Settings

__all__ = ["Engine", "EngineVersion", "ScoringItem", "load_engine", "score_in_chunks"]


def load_engine(settings: Settings, engine: str | None = None, **overrides: Any) -> Engine:
    """The engine named (`gop` or `phi4mm`; by default the settings' choice), loaded and ready;
    `overrides` replace single settings (a command line's --model, --adapter, --task-format,
    --device for phi4mm; --calibration for gop)."""
    name = engine or settings.engine_name
    if name == "gop":
        from engines.gop import GopEngine, gop_config

        return GopEngine(gop_config(settings, calibration=overrides.get("calibration")))
    if name == "phi4mm":
        from engines.phi4mm import Phi4Engine, phi4_config

        return Phi4Engine(phi4_config(settings, **{k: v for k, v in overrides.items() if k != "calibration"}))
    raise ValueError(f"unknown engine {name!r}: choose gop or phi4mm")
