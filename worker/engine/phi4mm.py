"""Phi-4-multimodal with a speech LoRA, through transformers' native implementation.

Each recording's audio is encoded on its own and only the language model runs batched: the
audio encoder is not padding-invariant (padding frames leak into real ones through its
convolutions and additive masks), and a recording's scores must not depend on its batch-mates.
Batches are left-padded, decoded greedily, sized by audio seconds, and halved on CUDA
out-of-memory.
"""

from __future__ import annotations

import hashlib
import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoTokenizer, Phi4MultimodalFeatureExtractor, Phi4MultimodalForCausalLM
from transformers.utils import logging as hf_logging

from scoring.assessment import Assessment, assess
from scoring.audio import SAMPLE_RATE
from scoring.batching import form_batches
from scoring.formats import AUDIO_PLACEHOLDER, TaskFormat, get_format
from scoring.lexicon import Lexicon, default_lexicon
from scoring.parsing import parse_outputs

log = logging.getLogger(__name__)

BASE_SPEECH_ADAPTER = "speech-lora"
TINY_MARKER = "pronscore_tiny_checkpoint"
AUDIO_WEIGHTS = "audio_embed.safetensors"


@dataclass(frozen=True)
class EngineConfig:
    model: str
    revision: str | None = None
    adapter: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    task_format: str = "joint-v1"
    batch_audio_seconds: float = 384.0
    static_cache: bool = False


@dataclass(frozen=True)
class ModelVersionInfo:
    """What produced an assessment, as recorded in `model_versions`."""

    name: str
    base_model: str
    base_revision: str | None
    adapter_sha256: str | None
    task_format: str
    decoding: dict[str, Any]
    meaningless: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "base": self.base_model,
            "base_revision": self.base_revision,
            "adapter_sha256": self.adapter_sha256,
            "task_format": self.task_format,
            **({"meaningless": True} if self.meaningless else {}),
        }


@dataclass(frozen=True)
class ScoringItem:
    samples: np.ndarray
    reference_text: str

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


@dataclass
class _Prepared:
    embeds: list[torch.Tensor] = field(default_factory=list)
    budgets: list[int] = field(default_factory=list)


def _quiet_loading() -> None:
    """Loading progress bars and peft's use of a deprecated transformers name are noise to operators."""
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


def adapter_sha256(adapter_dir: Path) -> str:
    """sha256 of the adapter's weight files, so a model version names exactly what ran."""
    digest = hashlib.sha256()
    weights = sorted(adapter_dir.glob("*.safetensors")) or sorted(adapter_dir.glob("*.bin"))
    if not weights:
        raise FileNotFoundError(f"no adapter weights (*.safetensors) in {adapter_dir}")
    for path in weights:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return getattr(torch, dtype)


@dataclass(frozen=True)
class ModelParts:
    """The pieces of a loaded checkpoint that turn audio and a prompt into embeddings."""

    model: Phi4MultimodalForCausalLM
    tokenizer: Any
    features: Phi4MultimodalFeatureExtractor

    @property
    def audio_token(self) -> str:
        return self.tokenizer.convert_ids_to_tokens(self.model.config.audio_config.audio_token_id)


def prompt_ids(parts: ModelParts, samples: np.ndarray, prompt: str) -> tuple[torch.Tensor, dict[str, Any]]:
    """Token ids of a prompt with its audio placeholder expanded, and the audio features."""
    features = parts.features([samples], sampling_rate=SAMPLE_RATE, return_tensors="pt")
    size = int(features["audio_embed_sizes"][0])
    text = prompt.replace(AUDIO_PLACEHOLDER, parts.audio_token * size)
    ids = parts.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    return ids, features


def prompt_embeddings(
    parts: ModelParts, samples: np.ndarray, prompt: str, suffix_ids: torch.Tensor | None = None
) -> torch.Tensor:
    """Token and audio embeddings of one recording's prompt (and, for training, its answer),
    computed without padding so that no other recording can influence them."""
    ids, features = prompt_ids(parts, samples, prompt)
    if suffix_ids is not None:
        ids = torch.cat([ids, suffix_ids[None]], dim=1)
    model = parts.model
    device = model.device
    ids = ids.to(device)
    inner = (model.get_base_model() if isinstance(model, PeftModel) else model).model
    dtype = inner.embed_tokens.weight.dtype
    embeds = inner.embed_tokens(ids)
    embeds = inner.embed_tokens_extend(
        ids,
        embeds,
        audio_input_features=features["audio_input_features"].to(device, dtype),
        audio_embed_sizes=features["audio_embed_sizes"].to(device),
        audio_attention_mask=None,
    )
    return embeds[0]


def load_parts(model: str, revision: str | None, device: torch.device, dtype: torch.dtype) -> ModelParts:
    """Tokenizer, audio feature extractor and model of a checkpoint (a hub id or a directory).

    transformers' `Phi4MultimodalProcessor` also needs the image processor, which needs
    torchvision; pronscore sends audio only, so it pairs the feature extractor and the
    tokenizer itself and expands the audio token exactly as that processor does.
    """
    _quiet_loading()
    tokenizer = AutoTokenizer.from_pretrained(model, revision=revision)
    features = Phi4MultimodalFeatureExtractor.from_pretrained(model, revision=revision)
    network = Phi4MultimodalForCausalLM.from_pretrained(
        model, revision=revision, dtype=dtype, attn_implementation="sdpa"
    ).to(device)
    return ModelParts(network, tokenizer, features)


class Phi4Engine:
    """Loads the model once and scores lists of recordings."""

    def __init__(self, config: EngineConfig, lexicon: Lexicon | None = None, parts: ModelParts | None = None) -> None:
        """Load `config.model`, or serve `parts` already in memory (benchmarks of random weights)."""
        self.config = config
        self.task: TaskFormat = get_format(config.task_format)
        self.device = resolve_device(config.device)
        self.dtype = resolve_dtype(config.dtype, self.device)
        self.lexicon = lexicon or default_lexicon()
        revision = None if Path(config.model).is_dir() else config.revision
        in_memory = parts is not None
        if parts is None:
            parts = load_parts(config.model, revision, self.device, self.dtype)
        self.tokenizer, self.features, self.model = parts.tokenizer, parts.features, parts.model
        self.model.eval()
        adapter_hash = None if in_memory else self._load_adapter(config, revision)
        self.meaningless = bool(getattr(self.model.config, TINY_MARKER, False))
        self.parts = ModelParts(self.model, self.tokenizer, self.features)
        self.stop_ids = [self.tokenizer.convert_tokens_to_ids("<|end|>"), self.tokenizer.eos_token_id]
        self.version = ModelVersionInfo(
            name=self._version_name(config, revision, adapter_hash),
            base_model=config.model,
            base_revision=revision,
            adapter_sha256=adapter_hash,
            task_format=self.task.name,
            decoding={
                "strategy": "greedy",
                "max_new_tokens": "per task format",
                "dtype": str(self.dtype),
                "cache": "static" if config.static_cache else "dynamic",
            },
            meaningless=self.meaningless,
        )

    def _load_adapter(self, config: EngineConfig, revision: str | None) -> str | None:
        """Merge our fine-tuned speech LoRA when configured, else the base model's own speech LoRA.

        Merged weights serve faster than a LoRA applied on every forward pass.
        """
        if config.adapter:
            path = Path(config.adapter)
            if not (path / "adapter_config.json").is_file():
                raise FileNotFoundError(f"no peft adapter (adapter_config.json) in {path}")
            self.model = PeftModel.from_pretrained(self.model, str(path)).merge_and_unload()
            audio = path / AUDIO_WEIGHTS
            if audio.is_file():  # trained with --variant unfreeze: the audio encoder and projector too
                self.model.model.embed_tokens_extend.audio_embed.load_state_dict(
                    load_file(audio, device=str(self.device))
                )
            return adapter_sha256(path)
        local = Path(config.model)
        if (local / BASE_SPEECH_ADAPTER).is_dir() or not local.exists():
            location = {"subfolder": BASE_SPEECH_ADAPTER} | ({"revision": revision} if revision else {})
            self.model = PeftModel.from_pretrained(self.model, config.model, **location).merge_and_unload()
        return None

    @staticmethod
    def _version_name(config: EngineConfig, revision: str | None, adapter_hash: str | None) -> str:
        base = config.model.rstrip("/").split("/")[-1] if Path(config.model).is_dir() else config.model
        pinned = f"@{revision}" if revision else ""
        adapter = f"+{adapter_hash[:12]}" if adapter_hash else "+speech-lora"
        return f"{base}{pinned}{adapter}/{config.task_format}"

    # Inputs -----------------------------------------------------------------------------

    def encode_prompt(self, samples: np.ndarray, prompt: str) -> torch.Tensor:
        return prompt_embeddings(self.parts, samples, prompt)

    @staticmethod
    def left_pad(embeds: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        length = max(e.shape[0] for e in embeds)
        hidden = embeds[0].shape[1]
        batch = embeds[0].new_zeros((len(embeds), length, hidden))
        mask = torch.zeros((len(embeds), length), dtype=torch.long, device=embeds[0].device)
        for row, e in enumerate(embeds):
            batch[row, length - e.shape[0] :] = e
            mask[row, length - e.shape[0] :] = 1
        return batch, mask

    # Generation -------------------------------------------------------------------------

    @torch.inference_mode()
    def _generate(self, items: Sequence[ScoringItem], turn: int) -> list[str]:
        prepared = _Prepared()
        for item in items:
            chat = self.task.turns(item.reference_text)[turn].chat()
            prepared.embeds.append(self.encode_prompt(item.samples, chat))
            prepared.budgets.append(self.task.max_new_tokens(item.reference_text)[turn])
        inputs, mask = self.left_pad(prepared.embeds)
        output = self.model.generate(
            inputs_embeds=inputs,
            attention_mask=mask,
            max_new_tokens=max(prepared.budgets),
            do_sample=False,
            eos_token_id=self.stop_ids,
            pad_token_id=self.tokenizer.pad_token_id,
            **({"cache_implementation": "static"} if self.config.static_cache else {}),
        )
        # Each row keeps only its own budget, so a longer batch-mate cannot lengthen its answer.
        rows = [row[:budget] for row, budget in zip(output, prepared.budgets, strict=True)]
        return self.tokenizer.batch_decode(rows, skip_special_tokens=True)

    def _generate_halving(self, items: Sequence[ScoringItem], turn: int) -> list[str]:
        try:
            return self._generate(items, turn)
        except torch.OutOfMemoryError:
            if len(items) == 1:
                raise
            torch.cuda.empty_cache()
            half = len(items) // 2
            log.warning("out of memory at batch %d; retrying as %d + %d", len(items), half, len(items) - half)
            return self._generate_halving(items[:half], turn) + self._generate_halving(items[half:], turn)

    def batches(self, items: Sequence[ScoringItem]) -> list[list[int]]:
        """Indices of `items`, sorted by length and cut into batches of at most the audio budget."""
        return form_batches([(i, item.seconds) for i, item in enumerate(items)], self.config.batch_audio_seconds)

    def generate(self, items: Sequence[ScoringItem]) -> tuple[list[list[str]], list[float]]:
        """Raw generations per item (one per turn of the task format) and milliseconds per item."""
        outputs: list[list[str]] = [[] for _ in items]
        millis = [0.0] * len(items)
        turns = len(self.task.turns(""))
        for batch in self.batches(items):
            chosen = [items[i] for i in batch]
            started = time.perf_counter()
            for turn in range(turns):
                for index, text in zip(batch, self._generate_halving(chosen, turn), strict=True):
                    outputs[index].append(text)
            elapsed = (time.perf_counter() - started) * 1000 / len(batch)
            for index in batch:
                millis[index] = elapsed
        return outputs, millis

    def score(self, items: Sequence[ScoringItem]) -> list[Assessment]:
        """Assessments in the order of `items`; unreadable answers are failures, never exceptions."""
        outputs, millis = self.generate(items)
        fields = [turn.fields for turn in self.task.turns("")]
        assessments = []
        for item, raw, ms in zip(items, outputs, millis, strict=True):
            joined = "\n\n".join(raw)
            result = assess(item.reference_text, parse_outputs(raw, fields), joined, self.lexicon)
            extra = {"meaningless": True} if self.meaningless else {}
            assessments.append(replace(result, generation_ms=ms, extra=extra))
        return assessments


def engine_config_from_settings(settings: Any, **overrides: Any) -> EngineConfig:
    values = {
        "model": settings.model,
        "revision": settings.model_revision,
        "adapter": settings.adapter,
        "device": settings.device,
        "dtype": settings.dtype,
        "task_format": settings.task_format,
        "batch_audio_seconds": settings.generation_batch_seconds,
        "static_cache": settings.static_cache,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return EngineConfig(**values)
