"""A free phone loop: which phone the acoustic model hears in each stretch of audio.

No language model (a phone LM's scores leak into the segment scores and blur the comparison
with the aligned phone). Each recording is decoded by a new decoder, as in the aligner: a
reused one carries state from one utterance to the next.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pocketsphinx import Decoder

from engines.gop.aligner import FILLERS, acoustic_model, placeholder_dictionary

SEARCH = "phone-loop"


@dataclass(frozen=True)
class LoopSegment:
    """A phone the loop decoded: frames [start, end] inclusive and its acoustic log score
    (log base 1.0001, like the aligner's)."""

    phone: str
    start: int
    end: int
    score: float

    @property
    def frames(self) -> int:
        return self.end - self.start + 1

    @property
    def silent(self) -> bool:
        return self.phone in FILLERS or self.phone.startswith("<") or self.phone.startswith("+")


def _decoder() -> Decoder:
    dictionary = placeholder_dictionary()
    try:
        decoder = Decoder(hmm=acoustic_model(), dict=dictionary, lm=None, loglevel="FATAL")
    finally:
        os.unlink(dictionary)
    decoder.add_allphone_file(SEARCH, None)
    decoder.activate_search(SEARCH)
    return decoder


class PhoneLoop:
    def decode(self, pcm: bytes) -> list[LoopSegment]:
        decoder = _decoder()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        # Segment.ascore is a probability; its log in logmath units is on the aligner's scale.
        return [
            LoopSegment(s.word, s.start_frame, s.end_frame, float(decoder.get_logmath().log(s.ascore)))
            for s in decoder.seg()
            if s.end_frame >= s.start_frame
        ]
