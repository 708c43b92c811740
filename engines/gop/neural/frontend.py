"""The neural front end as the engine uses it: samples in, frame log posteriors out.

`load_front_end` either returns a working front end or raises `FrontEndUnavailable` saying
what is missing (the extra, the weights, weights other than those the classifier was trained
on); the engine then runs on PocketSphinx alone and its model version says so.
"""

from __future__ import annotations

import numpy as np

from engines.gop.neural.classifier import ClassifierError, PhoneClassifier, load_classifier
from engines.gop.neural.encoder import FrontEndUnavailable, WhisperEncoder, checked_files, locate


class NeuralFrontEnd:
    def __init__(self, encoder: WhisperEncoder, classifier: PhoneClassifier) -> None:
        self.encoder = encoder
        self.classifier = classifier

    @property
    def name(self) -> str:
        """The acoustic model's name in the engine's version: encoder and classifier."""
        return f"whisper-tiny.en-{self.encoder.files.sha256[:8]}+phones-{self.classifier.sha256[:12]}"

    def log_posteriors(self, samples: np.ndarray) -> np.ndarray:
        """(frames of 20 ms, classes) log posteriors of the phone classes."""
        return self.classifier.log_posteriors(self.encoder.encode(samples))


def load_front_end(model: str | None = None, threads: int = 1) -> NeuralFrontEnd:
    """Raises FrontEndUnavailable when any part is missing or does not fit the rest."""
    try:
        classifier = load_classifier()
    except ClassifierError as error:
        raise FrontEndUnavailable(str(error)) from None
    files = checked_files(locate(model))
    trained_for = classifier.manifest.get("encoder", {})
    if trained_for.get("weights_sha256") != files.sha256:
        raise FrontEndUnavailable("the phone classifier was trained on other encoder weights")
    encoder = WhisperEncoder(files, threads=threads, compute_type=trained_for.get("compute_type", "int8"))
    return NeuralFrontEnd(encoder, classifier)
