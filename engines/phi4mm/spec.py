"""The Phi-4 engine as the registry knows it: its settings, its command-line options and how it
loads. Nothing here imports torch."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode

from engines.base import Engine, EngineOption, EngineSpec
from pronscore.settings import SETTINGS_CONFIG
from scoring.formats import DEFAULT_FORMAT, FORMATS

NAME = "phi4mm"


class Phi4Settings(BaseSettings):
    model_config = SETTINGS_CONFIG

    model: str = Field(
        "microsoft/Phi-4-multimodal-instruct",
        description="Base model: a Hugging Face id or a local directory.",
    )
    model_revision: str | None = Field(
        "refs/pr/70",
        description="Hub revision of the base model (the transformers-native weights); ignored for local directories.",
    )
    adapter: str | None = Field(None, description="Directory of a fine-tuned speech LoRA adapter (peft format).")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N.")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto", description="auto picks bfloat16 on CUDA and float32 on CPU."
    )
    task_format: str | None = Field(
        None,
        description=f"Prompt and answer format: {', '.join(FORMATS)}; empty means the adapter's own "
        f"(from its manifest), else {DEFAULT_FORMAT}.",
    )
    adapter_mismatch_ok: bool = Field(
        False,
        description="Serve an adapter whose manifest names another task format, base model or revision "
        "(for experts; each mismatch is logged). Off: such an adapter refuses to load.",
    )
    decode_loop: Literal["fast", "generate"] = Field(
        "fast",
        description="fast: pronscore's greedy loop over a static cache, each step shape captured as a CUDA graph "
        "when the engine starts; generate: transformers' generate, the slower reference giving the same answers.",
    )
    batch_sizes: Annotated[tuple[int, ...], NoDecode] = Field(
        "1,2,4,8,16,32,64,96,128,192,256",
        validate_default=True,
        description="Comma-separated batch sizes the model decodes in (a batch is padded up to the next); "
        "the largest is the most recordings decoded together.",
    )
    decode_cache_tokens: int = Field(
        262144,
        ge=64,
        description="Key-value cache slots (rows × tokens of prompt and answer) the fast loop reserves at start; "
        "128 KiB each for Phi-4-multimodal in bfloat16, so 32 GiB by default.",
    )

    @field_validator("task_format", mode="before")
    @classmethod
    def _known_format(cls, value: object) -> object:
        if value in ("", None):
            return None
        if value not in FORMATS:
            raise ValueError(f"unknown task format {value!r}; choose one of {', '.join(FORMATS)}")
        return value

    @field_validator("batch_sizes", mode="before")
    @classmethod
    def _split_batch_sizes(cls, value: object) -> object:
        if isinstance(value, str):
            value = [int(part) for part in value.split(",") if part.strip()]
        sizes = tuple(sorted(set(value)))  # type: ignore[call-overload]
        if not sizes or sizes[0] < 1:
            raise ValueError("batch sizes must be positive integers, e.g. 1,8,64,256")
        return sizes


def _load(settings: Phi4Settings) -> Engine:
    from engines.phi4mm.engine import Phi4Engine, phi4_config

    return Phi4Engine(phi4_config(settings))


def _trim(settings: Phi4Settings, count: int) -> dict[str, Any]:
    """Batch sizes up to the first that holds every recording, and the cache they need, so that
    a few recordings warm up a few decode shapes rather than all of a worker's."""
    configured = settings.batch_sizes
    sizes = tuple(s for s in configured if s < count) + tuple(s for s in configured if s >= count)[:1]
    return {"batch_sizes": sizes, "decode_cache_tokens": min(settings.decode_cache_tokens, sizes[-1] * 4096)}


PHI4MM = EngineSpec(
    name=NAME,
    summary="Phi-4-multimodal with a speech LoRA, on a GPU",
    settings=Phi4Settings,
    load=_load,
    options=(
        EngineOption("--model", "model", picks_engine=True),
        EngineOption("--adapter", "adapter", picks_engine=True),
        EngineOption("--task-format", "task_format", old_flag="--format"),
        EngineOption("--device", "device"),
        EngineOption("--adapter-mismatch-ok", "adapter_mismatch_ok"),
    ),
    picked_by=("model",),
    trim=_trim,
)
