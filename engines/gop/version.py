"""What only the GOP engine records of its version: its calibration's version and its method's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engines.gop.spec import NAME


@dataclass(frozen=True)
class GopVersion:
    """`method` names these features and these results (`gop-v2`: a new decoder per recording
    and the off-task check); the `task_format` column and key, which say for every engine what
    shaped its results, hold it."""

    calibration: str
    method: str = "gop-v2"

    def to_dict(self) -> dict[str, Any]:
        return {"task_format": self.method, "calibration": self.calibration}

    def columns(self) -> dict[str, Any]:
        return {"task_format": self.method, "decoding": {"engine": NAME, "calibration": self.calibration}}
