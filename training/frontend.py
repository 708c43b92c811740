"""Train the GOP engine's phone classifier on unlabelled speechocean762 train-split audio.

    .venv/bin/python -m training.frontend --corpus /path/to/speechocean762 --cache CACHE --jobs 2

Two steps, the first cached: (1) each chosen utterance is force-aligned on its canonical phones
by PocketSphinx and encoded by the frozen Whisper tiny.en encoder (`training/frontend_data.py`);
(2) classifiers are trained by frame cross-entropy on the speakers of most of the data and
compared on the frames of the others (speakers none of them trained on); the best is written
beside its manifest (`engines/gop/data/phone-classifier.{npz,json}` by default).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engines.gop.neural.classes import PHONE_CLASSES
from engines.gop.neural.classifier import PhoneClassifier
from training.frontend_data import (
    EVALUATION_SPEAKERS,
    CorpusUtterance,
    chosen,
    fingerprint,
    frame_targets,
    sample_speakers,
    train_utterances,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_LABELS = ROOT / "data" / "speechocean762-sample" / "labels.jsonl"
VALIDATION_SHARE = 0.1  # of the speakers, for choosing the classifier


@dataclass(frozen=True)
class Recipe:
    """Every value that shapes the classifier."""

    hidden: tuple[int, ...]
    epochs: int
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    batch_frames: int = 4096
    seed: int = 0


CANDIDATES = (Recipe(hidden=(), epochs=20), Recipe(hidden=(256,), epochs=20))

_worker: dict[str, Any] = {}


def _start_worker(compute_type: str) -> None:
    from engines.gop.aligner import ForcedAligner
    from engines.gop.neural.encoder import WhisperEncoder, checked_files, locate

    _worker["aligner"] = ForcedAligner()
    _worker["encoder"] = WhisperEncoder(checked_files(locate(None)), threads=1, compute_type=compute_type)


def _prepare(job: tuple[CorpusUtterance, Path]) -> str | None:
    """Align and encode one utterance into the cache; None when done, else why it was skipped."""
    from engines.gop.analysis import pcm16
    from scoring.audio import decode
    from scoring.lexicon import WordEntry

    utterance, path = job
    if path.exists():
        return None
    samples = decode(utterance.audio.read_bytes(), 40.0)
    entries = [WordEntry(w, (p,)) for w, p in zip(utterance.text.split(), utterance.phones, strict=True)]
    alignment = _worker["aligner"].align(pcm16(samples), entries)
    if alignment is None:
        return f"{utterance.utt}: not aligned"
    states = _worker["encoder"].encode(samples)
    targets = frame_targets(((p.phone, p.start, p.duration) for p in alignment.phones), len(states))
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, states=states.astype(np.float16), targets=targets)
    tmp.rename(path)
    return None


def build_cache(utterances: list[CorpusUtterance], cache: Path, jobs: int, compute_type: str) -> list[Path]:
    folder = cache / compute_type
    folder.mkdir(parents=True, exist_ok=True)
    work = [(u, folder / f"{u.utt}.npz") for u in utterances]
    started = time.time()
    with multiprocessing.get_context("spawn").Pool(jobs, _start_worker, (compute_type,)) as pool:
        for number, skipped in enumerate(pool.imap_unordered(_prepare, work, chunksize=4), 1):
            if skipped:
                print(skipped, flush=True)
            if number % 50 == 0:
                print(f"{number}/{len(work)} prepared in {time.time() - started:.0f} s", flush=True)
    return [path for _, path in work if path.exists()]


def _load(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    arrays = [np.load(p) for p in paths]
    return (np.concatenate([a["states"] for a in arrays]).astype(np.float32),
            np.concatenate([a["targets"] for a in arrays]).astype(np.int64))  # fmt: skip


def train(recipe: Recipe, x: np.ndarray, y: np.ndarray) -> PhoneClassifier:
    import torch

    torch.set_num_threads(1)  # small matrices: more threads only contend
    torch.manual_seed(recipe.seed)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-5
    z = torch.from_numpy((x - mean) / scale)
    targets = torch.from_numpy(y)
    sizes = (x.shape[1], *recipe.hidden, len(PHONE_CLASSES))
    linears = [torch.nn.Linear(a, b) for a, b in itertools.pairwise(sizes)]
    parts: list[torch.nn.Module] = []
    for number, linear in enumerate(linears):
        parts.append(linear)
        if number < len(linears) - 1:
            parts += [torch.nn.ReLU(), torch.nn.Dropout(0.1)]
    model = torch.nn.Sequential(*parts)
    optimiser = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, recipe.epochs)
    generator = torch.Generator().manual_seed(recipe.seed)
    for _ in range(recipe.epochs):
        model.train()
        for batch in torch.randperm(len(z), generator=generator).split(recipe.batch_frames):
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(model(z[batch]), targets[batch]).backward()
            optimiser.step()
        schedule.step()
    layers = tuple((lin.weight.detach().numpy().T.copy(), lin.bias.detach().numpy().copy()) for lin in linears)
    return PhoneClassifier(mean, scale, layers, {}, "")


def frame_accuracy(classifier: PhoneClassifier, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    logp = classifier.log_posteriors(x)
    return {"accuracy": float((logp.argmax(axis=1) == y).mean()),
            "cross_entropy": float(-logp[np.arange(len(y)), y].mean())}  # fmt: skip


def _speaker_of(path: Path, utterances: dict[str, CorpusUtterance]) -> str:
    return utterances[path.stem].speaker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="speechocean762 release folder")
    parser.add_argument("--cache", type=Path, required=True, help="folder for encoder states and targets")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=900, help="utterances to use")
    parser.add_argument("--compute-type", default="int8", help="CTranslate2 compute type the engine serves with")
    parser.add_argument("--out", type=Path, default=ROOT / "engines" / "gop" / "data")
    parser.add_argument("--cached-only", action="store_true", help="train on the utterances already cached")
    args = parser.parse_args()

    from engines.gop.neural.encoder import checked_files, locate

    encoder = checked_files(locate(None))
    excluded = sample_speakers(SAMPLE_LABELS) | EVALUATION_SPEAKERS
    utterances = chosen(train_utterances(args.corpus, excluded), args.limit)
    if args.cached_only:
        paths = [p for u in utterances if (p := args.cache / args.compute_type / f"{u.utt}.npz").exists()]
    else:
        paths = build_cache(utterances, args.cache, args.jobs, args.compute_type)
    by_id = {u.utt: u for u in utterances}
    speakers = sorted({_speaker_of(p, by_id) for p in paths})
    held = set(speakers[:: round(1 / VALIDATION_SHARE)])
    fit_paths = [p for p in paths if _speaker_of(p, by_id) not in held]
    held_paths = [p for p in paths if _speaker_of(p, by_id) in held]
    x, y = _load(fit_paths)
    hx, hy = _load(held_paths)
    print(f"{len(fit_paths)} utterances ({len(x)} frames) to fit, {len(held_paths)} of {len(held)} other "
          f"speakers ({len(hx)} frames) to choose", flush=True)  # fmt: skip
    results = []
    for recipe in CANDIDATES:
        started = time.time()
        classifier = train(recipe, x, y)
        figures = frame_accuracy(classifier, hx, hy)
        print(f"hidden {recipe.hidden}: held-out frame accuracy {figures['accuracy']:.3f}, "
              f"cross-entropy {figures['cross_entropy']:.3f} ({time.time() - started:.0f} s)", flush=True)  # fmt: skip
        results.append((figures["cross_entropy"], recipe, classifier, figures))
    _, recipe, classifier, figures = min(results, key=lambda r: r[0])
    data = classifier.to_npz()
    manifest = {
        "classes": list(PHONE_CLASSES),
        "encoder": {"weights_sha256": encoder.sha256, "compute_type": args.compute_type, "padding": "none"},
        "data": {
            "corpus": "speechocean762 train split",
            "utterances": len(paths),
            "speakers": len(speakers),
            "fingerprint": fingerprint(by_id[p.stem] for p in paths),
            "excluded_speakers": "the labelled sample's and " + " ".join(sorted(EVALUATION_SPEAKERS)),
            "targets": "PocketSphinx forced alignment of resource/text-phone, 20 ms frames",
        },
        "recipe": {**recipe.__dict__, "hidden": list(recipe.hidden), "objective": "frame cross-entropy"},
        "validation": {"speakers": len(held), "frames": len(hx), **figures,
                       "candidates": {str(list(r[1].hidden)): r[3] for r in results}},
    }  # fmt: skip
    manifest["sha256"] = hashlib.sha256(data).hexdigest()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "phone-classifier.npz").write_bytes(data)
    (args.out / "phone-classifier.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}/phone-classifier.npz ({len(data)} bytes, hidden {recipe.hidden})")


if __name__ == "__main__":
    main()
