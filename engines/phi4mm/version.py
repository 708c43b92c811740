"""What only the Phi-4 engine records of its version: the task format it serves and how it decodes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Phi4Version:
    task_format: str
    dtype: str
    loop: Literal["fast", "generate"]

    def to_dict(self) -> dict[str, Any]:
        return {"task_format": self.task_format}

    def columns(self) -> dict[str, Any]:
        return {
            "task_format": self.task_format,
            "decoding": {"strategy": "greedy", "dtype": self.dtype, "loop": self.loop},
        }
