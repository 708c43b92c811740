"""The neural front end as the engine uses it: samples and reference in; frame log posteriors
and the decoder's fit of the reference out, from one encoding.

`load_front_end` either returns a working front end or raises `FrontEndUnavailable` saying
what is missing (the extra, the weights, weights other than those the classifier was trained
on); the engine then runs on PocketSphinx alone and its model version says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engines.gop.neural.classifier import ClassifierError, PhoneClassifier, load_classifier
from engines.gop.neural.encoder import FrontEndUnavailable, WhisperEncoder, checked_files, locate
from engines.gop.neural.reading import ReadingFit, ReferenceReader


@dataclass(frozen=True)
class Heard:
    """One recording through the front end: phone posteriors per frame, and how well Whisper's
    decoder accepts the reference."""

    log_posteriors: np.ndarray
    reading: ReadingFit


class NeuralFrontEnd:
    def __init__(self, encoder: WhisperEncoder, classifier: PhoneClassifier) -> None:
        self.encoder = encoder
        self.classifier = classifier
        self.reader = ReferenceReader(encoder.model, encoder.files.folder)

    @property
    def name(self) -> str:
        """The acoustic model's name in the engine's version: encoder and classifier."""
        return f"whisper-tiny.en-{self.encoder.files.sha256[:8]}+phones-{self.classifier.sha256[:12]}"

    def hear(self, samples: np.ndarray, words: Sequence[str]) -> Heard:
        """Both readings of one encoding: the classifier's posteriors and the decoder's fit of `words`."""
        states = self.encoder.encode(samples)
        return Heard(self.classifier.log_posteriors(states), self.reader.fit(states, words))


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
