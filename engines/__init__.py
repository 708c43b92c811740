"""The model engines: what turns recordings into assessments, behind one small interface.

The worker, training, the command line and the benchmarks import engines from here; the
engines import nothing of theirs. `registry` lists them.
"""

from __future__ import annotations

from engines.base import Engine, EngineVersion, ScoringItem
from engines.registry import load_engine
from engines.scheduling import score_in_chunks

__all__ = ["Engine", "EngineVersion", "ScoringItem", "load_engine", "score_in_chunks"]
