"""The GOP engine as the registry knows it: its settings, its command-line option and how it
loads. Nothing here loads the decoder."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from engines.base import Engine, EngineOption, EngineSpec
from pronscore.settings import SETTINGS_CONFIG

NAME = "gop"


class GopSettings(BaseSettings):
    model_config = SETTINGS_CONFIG

    gop_calibration: str | None = Field(
        None,
        description="GOP calibration file (from pronscore train-gop); empty means the one shipped, "
        "fitted on the bundled sample.",
    )

    gop_frontend: Literal["auto", "neural", "pocketsphinx"] = Field(
        "auto",
        description="Acoustic front end: auto (the neural one when its weights are installed, else PocketSphinx "
        "alone), neural (fail without it) or pocketsphinx.",
    )
    gop_frontend_model: str | None = Field(
        None,
        description="Whisper tiny.en in CTranslate2 format for the neural front end: a local folder, or "
        "Systran/faster-whisper-tiny.en to download it; empty means the `neural` extra's wheel.",
    )

    @field_validator("gop_calibration", "gop_frontend_model", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value


def _load(settings: GopSettings) -> Engine:
    from engines.gop.engine import GopEngine, gop_config

    return GopEngine(gop_config(settings))


GOP = EngineSpec(
    name=NAME,
    summary="goodness of pronunciation on a CPU, offline",
    settings=GopSettings,
    load=_load,
    options=(EngineOption("--calibration", "gop_calibration"), EngineOption("--frontend", "gop_frontend")),
    process_per_core=True,
)
