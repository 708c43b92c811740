"""A small model of Phi-4-multimodal's real geometry with random weights, built in memory."""

import copy
import json

import pytest
import torch
from transformers import Phi4MultimodalFeatureExtractor

from engines.phi4mm.architecture import random_model, scaled_config
from engines.phi4mm.loading import ModelParts
from scoring.speechocean import parse_utterance
from tests.conftest import SAMPLE_DIR
from training.tokenizer import build_tokenizer


@pytest.fixture(scope="session")
def real_geometry() -> dict[torch.dtype, ModelParts]:
    """The scaled real architecture (6 heads of 128 over 2 key/value heads, LongRoPE at partial
    rotary 0.75, a tied head, a trained encoder's audio statistics), in float32 and the same
    weights in bfloat16."""
    lines = (SAMPLE_DIR / "labels.jsonl").read_text().splitlines()
    tokenizer = build_tokenizer([parse_utterance(json.loads(line)) for line in lines if line.strip()])
    model = random_model(scaled_config(tokenizer), torch.float32)
    half = copy.deepcopy(model).to(torch.bfloat16)
    features = Phi4MultimodalFeatureExtractor()
    return {
        torch.float32: ModelParts(model, tokenizer, features),
        torch.bfloat16: ModelParts(half, tokenizer, features),
    }
