"""What an adapter says it was trained for, and whether a serving configuration matches it.

An adapter learns one task format on one base model at one revision; served with another
prompt or base it still answers, wrongly and silently. Training writes these facts to the
adapter's manifest (`pronscore-adapter.json`), and the engine reads them before it loads any
weights.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from engines.phi4mm.lora import ADAPTER_MANIFEST
from scoring.formats import DEFAULT_FORMAT

log = logging.getLogger(__name__)

MISMATCH_OVERRIDE = "PRONSCORE_ADAPTER_MISMATCH_OK=true (or --adapter-mismatch-ok)"


class AdapterMismatch(ValueError):
    """An adapter asked to serve another task format, base model or revision than it was trained for."""


@dataclass(frozen=True)
class AdapterManifest:
    task_format: str
    base_model: str
    base_revision: str | None


def base_model_id(model: str) -> str:
    """How a base model is named in manifests: a hub id as given, a local directory by its
    absolute path (so `./phi4` and `/srv/phi4` compare equal when they are the same folder)."""
    local = Path(model).expanduser()
    return str(local.resolve()) if local.is_dir() else model


def read_manifest(adapter: Path) -> AdapterManifest | None:
    """The adapter's manifest, or None when it has none (a peft adapter made elsewhere)."""
    path = adapter / ADAPTER_MANIFEST
    if not path.is_file():
        return None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        return AdapterManifest(body["task_format"], body["base_model"], body.get("base_revision"))
    except (ValueError, KeyError, TypeError) as error:
        raise AdapterMismatch(f"{path} is not a readable adapter manifest: {error!r}") from None


def mismatches(manifest: AdapterManifest, task_format: str, model: str, revision: str | None) -> list[str]:
    """Each way the serving configuration differs from what the adapter was trained for."""
    found = []
    if manifest.task_format != task_format:
        found.append(f"task format: trained on {manifest.task_format!r}, asked to serve {task_format!r}")
    if manifest.base_model != base_model_id(model):
        found.append(f"base model: trained on {manifest.base_model!r}, asked to serve {base_model_id(model)!r}")
    if manifest.base_revision != revision:
        found.append(f"base revision: trained on {manifest.base_revision!r}, asked to serve {revision!r}")
    return found


def serving_task_format(
    adapter: str | None, task_format: str | None, model: str, revision: str | None, mismatch_ok: bool = False
) -> str:
    """The task format to serve: `task_format` when set, else the adapter's own, else the
    default. Refuses (AdapterMismatch) an adapter whose manifest names another task format,
    base model or revision, unless `mismatch_ok`, which only logs each mismatch."""
    manifest = read_manifest(Path(adapter)) if adapter else None
    if manifest is None:
        if adapter:
            log.warning("adapter %s has no %s: its format and base cannot be checked", adapter, ADAPTER_MANIFEST)
        return task_format or DEFAULT_FORMAT
    chosen = task_format or manifest.task_format
    found = mismatches(manifest, chosen, model, revision)
    if found and not mismatch_ok:
        raise AdapterMismatch(
            f"adapter {adapter} does not fit this configuration: {'; '.join(found)}. "
            f"Serve it as trained, or set {MISMATCH_OVERRIDE} if you know it is right."
        )
    for mismatch in found:
        log.warning("serving adapter %s despite a mismatch, as asked: %s", adapter, mismatch)
    return chosen
