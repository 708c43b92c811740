"""The GOP engine as the registry knows it: its settings, its command-line option and how it
loads. Nothing here loads the decoder."""

from __future__ import annotations

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

    @field_validator("gop_calibration", mode="before")
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
    options=(EngineOption("--calibration", "gop_calibration"),),
    process_per_core=True,
)
