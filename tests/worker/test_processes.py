"""The default number of worker processes follows the engine: a process per core for GOP (a CPU
engine), one for Phi-4 (one worker per GPU)."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from engines.gop.spec import GOP
from engines.phi4mm.spec import PHI4MM
from worker.processes import default_concurrency, usable_cores


@given(cores=st.integers(1, 512))
def test_gop_runs_a_process_per_core_and_phi4_one_per_worker(cores: int) -> None:
    assert default_concurrency(GOP, cores) == cores
    assert default_concurrency(PHI4MM, cores) == 1


def test_never_fewer_than_one_process() -> None:
    assert default_concurrency(GOP, 0) == 1


def test_the_cores_are_those_this_process_may_use() -> None:
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)
