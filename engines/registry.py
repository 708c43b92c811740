"""The engines pronscore can run, by name: the one table that `PRONSCORE_ENGINE`, the command
line's engine options, the settings table and the engine conformance tests read.

An engine is a package under `engines/` with a `spec` module (its `EngineSpec`: settings,
options, how it loads) and one entry here.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from engines.base import Engine, EngineSpec
from engines.gop.spec import GOP
from engines.phi4mm.spec import PHI4MM
from pronscore.settings import SETTINGS_CONFIG

log = logging.getLogger(__name__)

ENGINES: dict[str, EngineSpec] = {spec.name: spec for spec in (GOP, PHI4MM)}
DEFAULT_ENGINE = GOP.name  # runs where nothing else is configured: it needs no GPU and no download


def _picking_rule() -> str:
    picked = [
        f"{spec.name} when {' or '.join(f'PRONSCORE_{s.upper()}' for s in spec.picked_by)} is set"
        for spec in ENGINES.values()
        if spec.picked_by
    ]
    return "; ".join(f"empty means {rule}" for rule in picked) + f", else {DEFAULT_ENGINE}"


class EngineChoice(BaseSettings):
    """Which engine a worker or `pronscore score` runs."""

    model_config = SETTINGS_CONFIG

    engine: str | None = Field(
        None, description=f"{' or '.join(f'{s.name} ({s.summary})' for s in ENGINES.values())}; {_picking_rule()}."
    )

    @field_validator("engine", mode="before")
    @classmethod
    def _registered(cls, value: object) -> object:
        if value in ("", None):
            return None
        if value not in ENGINES:
            raise ValueError(f"unknown engine {value!r}; choose {' or '.join(ENGINES)}")
        return value


def engine_spec(name: str) -> EngineSpec:
    """The engine registered under `name`; ValueError names the choices."""
    try:
        return ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; choose {' or '.join(ENGINES)}") from None


def configured_engine() -> EngineSpec:
    """The engine the settings choose: `PRONSCORE_ENGINE`, else the first whose `picked_by`
    settings are set, else the default. Invalid settings raise pydantic's ValidationError."""
    name = EngineChoice().engine
    if name is not None:
        return ENGINES[name]
    for spec in ENGINES.values():
        if spec.picked_by and set(spec.picked_by) & spec.settings().model_fields_set:
            return spec
    return ENGINES[DEFAULT_ENGINE]


def settings_classes() -> tuple[type[BaseSettings], ...]:
    """The engines' settings: the choice of engine, then each engine's own, in table order."""
    return (EngineChoice, *(spec.settings for spec in ENGINES.values()))


def load_engine(name: str | None = None, **overrides: Any) -> Engine:
    """The engine named (by default the configured one), loaded and ready; `overrides` replace
    single settings of that engine (None keeps the setting)."""
    spec = engine_spec(name) if name else configured_engine()
    settings = spec.settings(**{key: value for key, value in overrides.items() if value is not None})
    log.info("loading the %s engine (%s)", spec.name, settings)
    return spec.load(settings)
