"""From GOP evidence to the scores annotators give: small ridge regressions in a versioned file.

One regression per level: phone score (0-2, as speechocean762 annotates), word accuracy (0-10)
and the four sentence scores (0-10), each on a few named features, standardised. The file also
holds what the features need (each phone's usual GOP) and two thresholds: the mean GOP below
which an alignment is rejected, and the GOP below which a phone's competitor is reported as
what was heard. Its sha256 goes into the engine's model version, as an adapter's does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 1
LEVELS = ("phone", "word", "accuracy", "fluency", "prosodic", "total")
RANGES = {"phone": (0.0, 2.0), "word": (0.0, 10.0)} | {a: (0.0, 10.0) for a in LEVELS[2:]}


class CalibrationError(ValueError):
    """A calibration file that cannot be used."""


@dataclass(frozen=True)
class Ridge:
    """y = intercept + coef · (x - mean) / scale, clipped to [low, high]."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    low: float
    high: float
    alpha: float

    def predict(self, values: Mapping[str, float]) -> float:
        x = (np.array([values[f] for f in self.features]) - self.mean) / self.scale
        return float(np.clip(self.intercept + x @ np.array(self.coef), self.low, self.high))

    def predict_many(self, rows: Sequence[Mapping[str, float]]) -> np.ndarray:
        x = (np.array([[row[f] for f in self.features] for row in rows]) - self.mean) / self.scale
        return np.clip(self.intercept + x @ np.array(self.coef), self.low, self.high)

    @classmethod
    def fit(
        cls,
        rows: Sequence[Mapping[str, float]],
        targets: Sequence[float],
        features: Sequence[str],
        alpha: float,
        bounds: tuple[float, float],
        match_spread: bool = False,
    ) -> Ridge:
        """Ridge regression on standardised features; `match_spread` then stretches the fit so
        its predictions spread as widely as the targets (ridge shrinks them towards the mean,
        and rounding a narrow spread to integers would tie most utterances)."""
        x = np.array([[row[f] for f in features] for row in rows], dtype=float)
        y = np.asarray(targets, dtype=float)
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale == 0] = 1.0
        z = (x - mean) / scale
        coef = np.linalg.solve(z.T @ z + alpha * len(y) * np.eye(z.shape[1]), z.T @ (y - y.mean()))
        if match_spread and (z @ coef).std() > 0:
            coef *= y.std() / (z @ coef).std()
        return cls(tuple(features), tuple(mean.tolist()), tuple(scale.tolist()), tuple(coef.tolist()),
                   float(y.mean()), *bounds, alpha)  # fmt: skip


@dataclass(frozen=True)
class Calibration:
    version: str
    phone_centres: dict[str, float]
    min_gop_mean: float
    substitution_gop: float
    models: dict[str, Ridge]
    trained_on: dict[str, Any] = field(default_factory=dict)
    front_end: str = "pocketsphinx"  # whose GOP the file maps: "pocketsphinx" or "neural"
    phone_norms: dict[str, list[float]] = field(default_factory=dict)  # neural: phone -> [mean, std]
    sha256: str = ""

    def to_json(self) -> str:
        body = asdict(self)
        body.pop("sha256")
        return json.dumps({"format": FORMAT, **body}, indent=1, sort_keys=True) + "\n"

    def save(self, path: Path) -> str:
        """Write the file; returns its sha256."""
        text = self.to_json()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        try:
            body = json.loads(text)
            if body.pop("format", None) != FORMAT:
                raise CalibrationError(f"not a GOP calibration file of format {FORMAT}")
            models = {level: Ridge(**{k: tuple(v) if isinstance(v, list) else v for k, v in m.items()})
                      for level, m in body.pop("models").items()}  # fmt: skip
            missing = [level for level in LEVELS if level not in models]
            if missing:
                raise CalibrationError(f"the calibration has no model for {', '.join(missing)}")
            return cls(models=models, sha256=hashlib.sha256(text.encode()).hexdigest(), **body)
        except (ValueError, KeyError, TypeError) as error:
            if isinstance(error, CalibrationError):
                raise
            raise CalibrationError(f"unreadable calibration: {error}") from None


SHIPPED = {"pocketsphinx": "data/calibration.json", "neural": "data/calibration-neural.json"}


def load_calibration(path: Path | None = None, front_end: str = "pocketsphinx") -> Calibration:
    """The file at `path`, or the one shipped with pronscore for `front_end` (fitted on the
    bundled sample)."""
    if path is None:
        text = resources.files("engines.gop").joinpath(SHIPPED[front_end]).read_text(encoding="utf-8")
        return Calibration.from_json(text)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise CalibrationError(f"cannot read the GOP calibration {path}: {error.strerror or error}") from None
    return Calibration.from_json(text)
