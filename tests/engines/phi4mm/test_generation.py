"""`halving`: a batch that runs out of GPU memory is retried in halves, in every form the GPU
reports it, with the failed attempt's memory freed first. Fakes stand in for the model."""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engines.phi4mm.generation import RowOutOfMemory, halving, is_out_of_memory

OUT_OF_MEMORY = [
    torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    RuntimeError("CUDA error: out of memory"),
    RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"),
    RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"),
]


class Model:
    """Runs up to `fits` rows; more raise `error` while holding their activations, as a
    prefill that runs out of memory does (its frames keep them alive through the traceback)."""

    def __init__(self, fits: int, error: Exception) -> None:
        self.fits, self.error = fits, error
        self.attempts: list[int] = []
        self.alive: list[weakref.ref[torch.Tensor]] = []
        self.held_at_start: list[int] = []

    def run(self, rows: Sequence[int]) -> list[int]:
        self.held_at_start.append(sum(1 for ref in self.alive if ref() is not None))
        self.attempts.append(len(rows))
        activations = torch.empty(len(rows) * 1024, dtype=torch.uint8)
        self.alive.append(weakref.ref(activations))
        if len(rows) > self.fits:
            raise type(self.error)(*self.error.args)  # a new one each time, as a real failure is
        return [row * 10 for row in rows]


@pytest.mark.parametrize("error", OUT_OF_MEMORY, ids=["OutOfMemoryError", "CUDA", "cuBLAS", "cuDNN"])
def test_every_out_of_memory_form_is_retried_in_halves(error: Exception) -> None:
    model = Model(fits=2, error=error)
    assert halving(model.run, list(range(8))) == [row * 10 for row in range(8)]
    assert model.attempts == [8, 4, 2, 2, 4, 2, 2]


@pytest.mark.parametrize("error", OUT_OF_MEMORY, ids=["OutOfMemoryError", "CUDA", "cuBLAS", "cuDNN"])
def test_a_retry_starts_after_the_failed_attempt_is_freed(error: Exception) -> None:
    model = Model(fits=1, error=error)
    halving(model.run, list(range(16)))
    assert model.held_at_start == [0] * len(model.attempts)


def test_other_errors_are_not_retried() -> None:
    model = Model(fits=0, error=RuntimeError("The size of tensor a (6) must match the size of tensor b (7)"))
    with pytest.raises(RuntimeError, match="size of tensor"):
        halving(model.run, list(range(8)))
    assert model.attempts == [8]


@pytest.mark.parametrize("error", OUT_OF_MEMORY, ids=["OutOfMemoryError", "CUDA", "cuBLAS", "cuDNN"])
def test_one_row_that_does_not_fit_is_a_clear_error_with_its_memory_freed(error: Exception) -> None:
    model = Model(fits=0, error=error)
    with pytest.raises(RowOutOfMemory, match="one recording alone") as raised:
        halving(model.run, [7])
    assert raised.value.__context__ is None, "the failed attempt's traceback must not travel with it"
    assert model.alive[0]() is None


@settings(max_examples=25)  # each retry collects garbage, which takes a while
@given(st.integers(1, 32), st.integers(1, 32))
def test_halving_returns_every_row_in_order(rows: int, fits: int) -> None:
    model = Model(fits=fits, error=torch.OutOfMemoryError("out of memory"))
    assert halving(model.run, list(range(rows))) == [row * 10 for row in range(rows)]
    assert max(model.attempts[1:], default=0) <= max(fits, (rows + 1) // 2)


@pytest.mark.parametrize(
    "error",
    [ValueError("out of memory"), RuntimeError("expected scalar type Float"), KeyError("x")],
    ids=["not a RuntimeError", "another RuntimeError", "KeyError"],
)
def test_only_allocation_failures_count_as_out_of_memory(error: Exception) -> None:
    assert not is_out_of_memory(error)
