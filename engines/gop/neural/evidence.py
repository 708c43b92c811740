"""GOP-NN: each force-aligned canonical phone scored by the classifier's frame posteriors.

Over the encoder frames a phone spans (20 ms, aligned frames being 10 ms): the mean log
posterior of the canonical phone (LPP), and its log posterior ratio against the best phone
over the same frames (LPR, 0 when the canonical phone is the best, the `gop` the features
use); that best phone is the competitor, the phone heard when the canonical one loses.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engines.gop.aligner import AlignedPhone
from engines.gop.features import GopScale, PhoneEvidence
from engines.gop.neural.classes import PHONE_CLASSES

# What counts as a low LPR (the competitor e^2, about 7 times as likely) and the LPR a phone
# gets when the alignment fell back on the phone loop and the loop did not hear it.
NEURAL_SCALE = GopScale(low=-2.0, missed=-6.0)
_INDEX = {phone: number for number, phone in enumerate(PHONE_CLASSES)}


def _frames(phone: AlignedPhone, total: int) -> slice:
    first = min(phone.start // 2, total - 1)
    last = max(first + 1, min(-(-(phone.start + phone.duration) // 2), total))
    return slice(first, last)


def neural_evidence(phones: Sequence[AlignedPhone], log_posteriors: np.ndarray) -> list[PhoneEvidence]:
    """`score` is the canonical phone's log posterior summed over the phone's 10 ms frames
    (LPP times duration, as PocketSphinx's score is a sum), `competitor_score` the best's."""
    evidence = []
    for phone in phones:
        mean = log_posteriors[_frames(phone, len(log_posteriors))].mean(axis=0)
        best = int(mean.argmax())
        lpp = float(mean[_INDEX[phone.phone]])
        frames = max(phone.duration, 1)
        top = float(mean[best])
        evidence.append(
            PhoneEvidence(phone.word_index, phone.phone, phone.start, phone.duration, lpp * frames,
                          PHONE_CLASSES[best], top * frames, lpp - top)
        )  # fmt: skip
    return evidence
