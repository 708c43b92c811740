"""The GOP engine: goodness of pronunciation on a CPU, offline, behind the engine interface.

Each recording is force-aligned to its reference and decoded by a free phone loop
(`analysis`); with the neural front end (`neural/`, the default when its weights are
installed) each phone's evidence comes from a Whisper encoder's phone posteriors, otherwise
from PocketSphinx alone, and the model version says which ran. Calibration (`calibration`,
fitted by `pronscore train-gop`) maps the evidence to the corpus's scores (`assess`). A
recording that cannot be aligned fails alone with `alignment_failed`, one where another
sentence was read with `wrong_text`; no exception from one recording reaches its batch-mates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from engines.base import EngineVersion, ScoringItem
from engines.gop.analysis import AlignmentFailed, Analyser, WrongText
from engines.gop.assess import assessment
from engines.gop.calibration import CalibrationError, load_calibration
from engines.gop.offtask import shipped_sha256
from engines.gop.spec import NAME
from engines.gop.version import GopVersion
from scoring.assessment import AssessmentResult
from scoring.failures import FailureReason, RecordingFailure
from scoring.lexicon import Lexicon

if TYPE_CHECKING:
    from engines.gop.neural.frontend import NeuralFrontEnd

log = logging.getLogger(__name__)

ACOUSTIC_MODEL = "pocketsphinx/en-us"
FrontEndChoice = Literal["auto", "neural", "pocketsphinx"]
NEURAL_METHOD = "gop-nn-v2"  # GOP-NN and the Whisper decoder's fit of the reference, with the off-task check


@dataclass(frozen=True)
class GopConfig:
    calibration: Path | None = None  # None: the calibration shipped with pronscore for the front end that runs
    frontend: FrontEndChoice = "auto"
    frontend_model: str | None = None  # None: the `neural` extra's wheel


def gop_config(settings: Any, calibration: str | Path | None = None) -> GopConfig:
    """The engine's part of the settings; an explicit `calibration` replaces the setting."""
    chosen = calibration or settings.gop_calibration
    return GopConfig(Path(chosen) if chosen else None, settings.gop_frontend, settings.gop_frontend_model)


def front_end(config: GopConfig) -> NeuralFrontEnd | None:
    """The neural front end, or None (PocketSphinx alone) when it is off or, with `auto`, absent."""
    if config.frontend == "pocketsphinx":
        return None
    from engines.gop.neural.encoder import FrontEndUnavailable
    from engines.gop.neural.frontend import load_front_end

    try:
        return load_front_end(config.frontend_model)
    except FrontEndUnavailable as error:
        if config.frontend == "neural":
            raise
        log.warning("the GOP engine runs on PocketSphinx alone: %s", error)
        return None


def failed(reason: FailureReason, detail: str) -> AssessmentResult:
    return AssessmentResult(failure=RecordingFailure(reason, detail))


class GopEngine:
    def __init__(self, config: GopConfig, lexicon: Lexicon | None = None) -> None:
        neural = front_end(config)
        kind = "neural" if neural else "pocketsphinx"
        self.calibration = load_calibration(config.calibration, kind)
        if self.calibration.front_end != kind:
            raise CalibrationError(
                f"the calibration {self.calibration.version} was fitted for the {self.calibration.front_end} front "
                f"end, but the {kind} one runs (PRONSCORE_GOP_FRONTEND chooses)"
            )
        self.analyser = Analyser(lexicon, neural)
        sphinx = package_version("pocketsphinx")
        runtime = {"pocketsphinx": sphinx}
        base = ACOUSTIC_MODEL
        if neural:
            runtime["ctranslate2"] = package_version("ctranslate2")
            base = f"{ACOUSTIC_MODEL}+{neural.name}"
        self._version = EngineVersion(
            name=f"gop-{base}@{sphinx}+{self.calibration.version}-{self.calibration.sha256[:12]}"
            f"+offtask-{shipped_sha256(kind)[:12]}",
            engine=NAME,
            base_model=base,
            base_revision=sphinx,
            artifact_sha256=self.calibration.sha256,
            runtime=runtime,
            detail=GopVersion(self.calibration.version, NEURAL_METHOD)
            if neural
            else GopVersion(self.calibration.version),
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
