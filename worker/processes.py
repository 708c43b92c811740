"""The processes of one `pronscore worker`: how many by default, as many as its engine can keep
busy (GOP scores on a CPU core per process, so one process per core the worker may use; Phi-4
holds a whole GPU, so one process, and a host with several GPUs runs one worker per GPU, each
pinned to its GPU with CUDA_VISIBLE_DEVICES or the compose file's device_ids), and the folder
where they count their metrics together."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engines.base import EngineSpec


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity, which containers and taskset narrow)."""
    return len(os.sched_getaffinity(0))


def default_concurrency(engine: EngineSpec, cores: int) -> int:
    """Worker processes for `engine` on a host where `cores` cores are usable."""
    return max(1, cores) if engine.process_per_core else 1


@contextmanager
def metrics_folder() -> Iterator[Path]:
    """A fresh folder where every process of this worker counts its metrics, named in
    PROMETHEUS_MULTIPROC_DIR for the time of the `with` block. Enter it before anything imports
    prometheus_client: a metric picks its storage when it is made."""
    folder = Path(tempfile.mkdtemp(prefix="pronscore-metrics-"))
    previous = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    try:
        yield folder
    finally:
        if previous is None:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]
        else:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = previous
        shutil.rmtree(folder, ignore_errors=True)
