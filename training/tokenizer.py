"""An offline tokenizer for checkpoints built here without a hub: the tiny test checkpoint
and the full-size random-weight benchmarks.

A byte-level BPE trained on the task formats' prompts and answers, with Phi-4's chat and
audio tokens, so prompts go through the same code path as with the real tokenizer.
"""

from __future__ import annotations

from collections.abc import Iterator

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from scoring.formats import FORMATS
from scoring.phones import PHONES
from scoring.speechocean import RatedUtterance

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|user|>",
    "<|assistant|>",
    "<|end|>",
    "<|endoftext10|>",
    "<|endoftext11|>",
]


def _corpus(utterances: list[RatedUtterance]) -> Iterator[str]:
    for task in FORMATS.values():
        for utterance in utterances:
            for turn, target in zip(task.turns(utterance.text), task.targets(utterance), strict=True):
                yield turn.chat()
                yield target
    yield " ".join(sorted(PHONES))


def _prompt_fragments() -> list[str]:
    """The fixed text of every prompt (what surrounds the reference sentence)."""
    sentinel = "QZXQ"  # survives the normalisation of reference sentences
    fragments = []
    for task in FORMATS.values():
        for turn in task.turns(sentinel):
            fragments.extend(f for f in turn.instruction.split(sentinel) if len(f) > 16)
    return fragments


def build_tokenizer(
    utterances: list[RatedUtterance], vocab_size: int = 1024, whole_prompts: bool = True
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained offline on the prompts and answers, with Phi-4's chat
    tokens. With `whole_prompts`, each prompt's fixed text is one added token, which keeps
    sequences short on a CPU; without, prompts and answers take about as many tokens as with
    Phi-4's own tokenizer (what a benchmark of full-size compute needs)."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus(utterances), trainer=trainer)
    if whole_prompts:
        tokenizer.add_tokens(_prompt_fragments())
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        extra_special_tokens={"audio_token": "<|endoftext11|>", "image_token": "<|endoftext10|>"},
    )
