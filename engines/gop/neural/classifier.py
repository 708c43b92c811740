"""The phone classifier over encoder states: a small MLP (or a linear layer) in numpy.

Its weights are a `.npz` file beside a manifest (`.json`) that says what it was trained on
(the encoder's sha256, the data's fingerprint, the recipe) and the weights' own sha256, which
loading checks: a classifier is only valid over the encoder states it was trained on.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from engines.gop.neural.classes import PHONE_CLASSES

WEIGHTS = "data/phone-classifier.npz"
MANIFEST = "data/phone-classifier.json"


class ClassifierError(ValueError):
    """A classifier file that is missing, altered or made for other encoder weights."""


@dataclass(frozen=True)
class PhoneClassifier:
    """log P(phone | frame) = log_softmax(layers(standardised state)); ReLU between layers."""

    mean: np.ndarray
    scale: np.ndarray
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    manifest: dict[str, Any]
    sha256: str

    def log_posteriors(self, states: np.ndarray) -> np.ndarray:
        """(frames, classes) natural-log posteriors of PHONE_CLASSES."""
        x = (states - self.mean) / self.scale
        for number, (weight, bias) in enumerate(self.layers):
            x = x @ weight + bias
            if number < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        x = x - x.max(axis=1, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=1, keepdims=True))

    def to_npz(self) -> bytes:
        arrays = {"mean": self.mean, "scale": self.scale}
        for number, (weight, bias) in enumerate(self.layers):
            arrays[f"w{number}"], arrays[f"b{number}"] = weight, bias
        buffer = io.BytesIO()
        np.savez(buffer, **{k: v.astype(np.float16) for k, v in arrays.items()})
        return buffer.getvalue()

    @classmethod
    def from_npz(cls, data: bytes, manifest: dict[str, Any]) -> PhoneClassifier:
        sha256 = hashlib.sha256(data).hexdigest()
        if manifest.get("sha256") != sha256:
            raise ClassifierError(
                f"the classifier's weights (sha256 {sha256[:12]}) are not the ones its manifest names"
            )
        if tuple(manifest.get("classes", ())) != PHONE_CLASSES:
            raise ClassifierError("the classifier was trained on another phone set")
        arrays = {k: v.astype(np.float32) for k, v in np.load(io.BytesIO(data)).items()}
        count = sum(1 for k in arrays if k.startswith("w"))
        layers = tuple((arrays[f"w{n}"], arrays[f"b{n}"]) for n in range(count))
        return cls(arrays["mean"], arrays["scale"], layers, manifest, sha256)


def load_classifier(folder: Path | None = None) -> PhoneClassifier:
    """The classifier in `folder` (phone-classifier.npz and .json), or the one shipped."""
    try:
        if folder is None:
            root = resources.files("engines.gop")
            data, text = root.joinpath(WEIGHTS).read_bytes(), root.joinpath(MANIFEST).read_text(encoding="utf-8")
        else:
            data = (folder / Path(WEIGHTS).name).read_bytes()
            text = (folder / Path(MANIFEST).name).read_text(encoding="utf-8")
    except OSError as error:
        raise ClassifierError(f"cannot read the phone classifier: {error}") from None
    return PhoneClassifier.from_npz(data, json.loads(text))
