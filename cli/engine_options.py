"""The engine options of `score`, `evaluate` and `train`, derived from the engine registry.

`--engine` and each registered engine's own options (its `EngineOption`s, with the help of the
setting each one overrides) are declared here once. A command decorated with `engine_options`
gets them all and is called with one `EngineRequest` in their place: the engine chosen and the
settings the command line overrides.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from cli.common import err_console, fail
from engines.base import Engine, EngineOption, EngineSpec
from engines.registry import ENGINES, configured_engine, engine_spec

Command = TypeVar("Command", bound=Callable[..., Any])
ENGINE_PARAMETER = "engine_name"


@dataclass(frozen=True)
class EngineRequest:
    """The engine a command runs and the settings its command line overrides (`flags`: the
    option each overridden setting came from, to name in errors)."""

    spec: EngineSpec
    overrides: dict[str, Any]
    flags: dict[str, str]

    def settings(self, count: int | None = None) -> BaseSettings:
        """The engine's settings: the environment's with the command line's on top, trimmed for
        scoring `count` recordings when the engine can start smaller; a bad value given on the
        command line is named by its option."""
        try:
            settings = self.spec.settings(**self.overrides)
            if count is not None and self.spec.trim is not None:
                settings = self.spec.settings(**self.overrides | self.spec.trim(settings, count))
        except ValidationError as error:
            given = [e for e in error.errors() if e["loc"] and e["loc"][0] in self.flags]
            if not given:
                raise
            fail("; ".join(f"{self.flags[str(e['loc'][0])]}: {e['msg'].removeprefix('Value error, ')}" for e in given))
        return settings

    def load(self, count: int | None = None) -> Engine:
        """The engine, loaded; one that cannot load (a missing model, an adapter refused) is a
        clear error."""
        settings = self.settings(count)
        try:
            return self.spec.load(settings)
        except (OSError, ValueError) as error:
            fail(f"cannot load the model: {error}")


@dataclass(frozen=True)
class _Parameter:
    spec: EngineSpec
    option: EngineOption
    old: bool  # the option's former name


def _help(spec: EngineSpec, option: EngineOption) -> str:
    """The description of the setting the option overrides."""
    described = spec.settings.model_fields[option.setting].description or ""
    return f"{described} (default: PRONSCORE_{option.setting.upper()})"


def _engine_help() -> str:
    picking = []
    for spec in ENGINES.values():
        flags = [option.flag for option in spec.options if option.picks_engine]
        if flags:
            picking.append(f"{spec.name} with {' or '.join(flags)}")
    return f"{' or '.join(ENGINES)} (default: PRONSCORE_ENGINE; {', '.join(picking)})."


def _typer_parameter(name: str, parameter: _Parameter) -> inspect.Parameter:
    spec, option = parameter.spec, parameter.option
    panel = f"Engine {spec.name}: {spec.summary}"
    if parameter.old:
        info = typer.Option(None, option.old_flag, hidden=True, help=f"Deprecated name of {option.flag}.")
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=str | None)
    if spec.settings.model_fields[option.setting].annotation is bool:
        info = typer.Option(False, option.flag, help=_help(spec, option), rich_help_panel=panel)
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=bool)
    info = typer.Option(None, option.flag, help=_help(spec, option), rich_help_panel=panel)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=str | None)


def engine_options(engine: str | None = None, only: Collection[str] | None = None) -> Callable[[Command], Command]:
    """Give a command `--engine` and every registered engine's options; or, with `engine`, that
    engine's alone (those whose flags are in `only`). The command takes `engine: EngineRequest`."""
    specs = [engine_spec(engine)] if engine else list(ENGINES.values())
    parameters: dict[str, _Parameter] = {}
    for spec in specs:
        for option in spec.options:
            if only is None or option.flag in only:
                parameters[f"{spec.name}_{option.setting}"] = _Parameter(spec, option, old=False)
                if option.old_flag:
                    parameters[f"{spec.name}_{option.setting}_old"] = _Parameter(spec, option, old=True)

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command, eval_str=True)
        kept = [p for p in signature.parameters.values() if p.name != "engine"]
        added = [_typer_parameter(name, parameter) for name, parameter in parameters.items()]
        if engine is None:
            choice = typer.Option(None, "--engine", help=_engine_help(), rich_help_panel="Engine")
            added.insert(
                0,
                inspect.Parameter(
                    ENGINE_PARAMETER, inspect.Parameter.KEYWORD_ONLY, default=choice, annotation=str | None
                ),
            )

        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in parameters}
            name = kwargs.pop(ENGINE_PARAMETER) if engine is None else engine
            return command(*args, engine=_request(name, values, parameters), **kwargs)

        run.__signature__ = signature.replace(parameters=[*kept, *added])  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in [*kept, *added]}
        return run  # type: ignore[return-value]

    return decorate


def _given(values: dict[str, Any], parameters: dict[str, _Parameter]) -> dict[str, tuple[_Parameter, Any]]:
    """The options given on the command line, by engine and setting; a former name is read with
    a warning, and refused when the new name gives another value."""
    given: dict[str, tuple[_Parameter, Any]] = {}
    for name, value in values.items():  # each option before its former name
        parameter = parameters[name]
        option = parameter.option
        if value is None or value is False:
            continue
        key = f"{parameter.spec.name}.{option.setting}"
        if parameter.old:
            old, new = option.old_flag, option.flag
            if key in given and given[key][1] != value:
                fail(f"{old} is the old name of {new}; give one of them, not {value!r} and {given[key][1]!r}")
            err_console.print(f"[yellow]warning:[/] {old} is deprecated here; use {new}", highlight=False)
        given[key] = (replace(parameter, old=False), value)
    return given


def _request(name: str | None, values: dict[str, Any], parameters: dict[str, _Parameter]) -> EngineRequest:
    """The engine to run: `--engine`, else the engine whose picking options were given (phi4mm's
    `--model`), else the configured one; options of another engine than the one run are an error."""
    given = _given(values, parameters)
    if name is not None:
        if name not in ENGINES:
            fail(f"--engine must be {' or '.join(ENGINES)}, not {name!r}")
        spec = ENGINES[name]
    else:
        picking = {p.spec.name for p, _ in given.values() if p.option.picks_engine}
        if len(picking) > 1:
            fail(f"these options pick different engines ({' and '.join(sorted(picking))}): give one engine's")
        spec = ENGINES[picking.pop()] if picking else configured_engine()
    for parameter, _ in given.values():
        if parameter.spec is not spec:
            fail(
                f"{parameter.option.flag} is an option of the {parameter.spec.name} engine, and this runs {spec.name}: "
                f"add --engine {parameter.spec.name}, or leave {parameter.option.flag} out"
            )
    return EngineRequest(
        spec,
        {p.option.setting: value for p, value in given.values()},
        {p.option.setting: p.option.flag for p, _ in given.values()},
    )
