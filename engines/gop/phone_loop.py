"""A free phone loop: which phone the acoustic model hears in each stretch of audio.

No language model (a phone LM's scores leak into the segment scores and blur the comparison
with the aligned phone). The decoder is built once and reused for every recording.
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


class PhoneLoop:
    def __init__(self) -> None:
        dictionary = placeholder_dictionary()
        try:
            self._decoder = Decoder(hmm=acoustic_model(), dict=dictionary, lm=None, loglevel="FATAL")
        finally:
            os.unlink(dictionary)
        self._decoder.add_allphone_file(SEARCH, None)
        self._decoder.activate_search(SEARCH)
        self._log = self._decoder.get_logmath()

    def decode(self, pcm: bytes) -> list[LoopSegment]:
        decoder = self._decoder
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        # Segment.ascore is a probability; its log in logmath units is on the aligner's scale.
        return [
            LoopSegment(s.word, s.start_frame, s.end_frame, float(self._log.log(s.ascore)))
            for s in decoder.seg()
            if s.end_frame >= s.start_frame
        ]
