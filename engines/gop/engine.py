"""The GOP engine: goodness of pronunciation on a CPU, offline, behind the engine interface.

Each recording is force-aligned to its reference and decoded by a free phone loop
(`analysis`); calibration (`calibration`, fitted by `pronscore train-gop`) maps the evidence to
the corpus's scores (`assess`). A recording that cannot be aligned fails alone with
`alignment_failed`, one where another sentence was read with `wrong_text`; no exception from
one recording reaches its batch-mates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from engines.base import EngineVersion, ScoringItem
from engines.gop.analysis import AlignmentFailed, Analyser, WrongText
from engines.gop.assess import assessment
from engines.gop.calibration import load_calibration
from engines.gop.offtask import shipped_sha256
from engines.gop.spec import NAME
from engines.gop.version import GopVersion
from scoring.assessment import AssessmentResult
from scoring.failures import FailureReason, RecordingFailure
from scoring.lexicon import Lexicon

log = logging.getLogger(__name__)

ACOUSTIC_MODEL = "pocketsphinx/en-us"


@dataclass(frozen=True)
class GopConfig:
    calibration: Path | None = None  # None: the calibration shipped with pronscore


def gop_config(settings: Any, calibration: str | Path | None = None) -> GopConfig:
    """The engine's part of the settings; an explicit `calibration` replaces the setting."""
    chosen = calibration or settings.gop_calibration
    return GopConfig(Path(chosen) if chosen else None)


def failed(reason: FailureReason, detail: str) -> AssessmentResult:
    return AssessmentResult(failure=RecordingFailure(reason, detail))


class GopEngine:
    def __init__(self, config: GopConfig, lexicon: Lexicon | None = None) -> None:
        self.calibration = load_calibration(config.calibration)
        self.analyser = Analyser(lexicon)
        sphinx = package_version("pocketsphinx")
        self._version = EngineVersion(
            name=f"gop-{ACOUSTIC_MODEL}@{sphinx}+{self.calibration.version}-{self.calibration.sha256[:12]}"
            f"+offtask-{shipped_sha256()[:12]}",
            engine=NAME,
            base_model=ACOUSTIC_MODEL,
            base_revision=sphinx,
            artifact_sha256=self.calibration.sha256,
            runtime={"pocketsphinx": sphinx},
            detail=GopVersion(self.calibration.version),
        )

    @property
    def version(self) -> EngineVersion:
        return self._version

    def score(self, items: Sequence[ScoringItem]) -> list[AssessmentResult]:
        return [self._one(item) for item in items]

    def _one(self, item: ScoringItem) -> AssessmentResult:
        started = time.perf_counter()
        try:
            result = assessment(self.analyser.analyse(item.samples, item.reference_text), self.calibration)
        except WrongText as error:
            return failed(FailureReason.wrong_text, str(error))
        except AlignmentFailed as error:
            return failed(FailureReason.alignment_failed, str(error))
        except Exception as error:  # a decoder error on one recording must not fail its batch
            log.exception("the GOP engine failed on one recording")
            return failed(FailureReason.alignment_failed, f"the aligner failed: {error}")
        elapsed_ms = (time.perf_counter() - started) * 1000
        return replace(result, generation_ms=elapsed_ms)

    def close(self) -> None:
        """Nothing to release beyond what garbage collection frees."""
