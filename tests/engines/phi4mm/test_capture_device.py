"""CUDA-graph capture and replay on the decoder's own GPU: on `cuda:1` the streams, the capture
and every replay must run with device 1 current, or they act on device 0 (empty graphs or a
capture error). Checked here with a fake `torch.cuda` that tracks the current device."""

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import pytest
import torch

from engines.phi4mm.buckets import BucketPlan
from engines.phi4mm.decoding import FastDecoder
from engines.phi4mm.stopping import StopRule


class FakeStream:
    def __init__(self, device: int) -> None:
        self.device = device

    def wait_stream(self, stream: object) -> None:
        pass


class FakeCuda:
    """What the capture code calls in `torch.cuda`, recording the current device at each call."""

    def __init__(self) -> None:
        self.current = 0
        self.events: list[tuple[str, int, int | None]] = []  # (what, current device, device asked for)

    def device(self, device: torch.device):
        @contextmanager
        def current() -> Iterator[None]:
            previous, self.current = self.current, torch.device(device).index
            try:
                yield
            finally:
                self.current = previous

        return current()

    def Stream(self, device: torch.device | None = None) -> "FakeStream":
        self.events.append(("stream", self.current, None if device is None else torch.device(device).index))
        return FakeStream(self.current if device is None else torch.device(device).index)

    def current_stream(self, device: torch.device | None = None) -> "FakeStream":
        self.events.append(("current_stream", self.current, None if device is None else torch.device(device).index))
        return FakeStream(self.current if device is None else torch.device(device).index)

    def stream(self, stream: object) -> nullcontext:
        return nullcontext()

    def CUDAGraph(self) -> "FakeCuda":
        return self

    def graph(self, graph: object, pool: object = None, stream: "FakeStream | None" = None) -> nullcontext:
        self.events.append(("capture", self.current, None if stream is None else stream.device))
        return nullcontext()

    def replay(self) -> None:
        self.events.append(("replay", self.current, None))


def test_capture_and_replay_run_on_the_decoders_gpu(real_geometry, monkeypatch) -> None:
    parts = real_geometry[torch.float32]
    stop = StopRule(parts.tokenizer, parts.model.config.vocab_size)
    decoder = FastDecoder(parts.model, stop, BucketPlan((1,), 256, 256))
    decoder.warm_up()  # on the CPU, eager
    fake = FakeCuda()
    for name in ("device", "Stream", "current_stream", "stream", "CUDAGraph", "graph"):
        monkeypatch.setattr(torch.cuda, name, getattr(fake, name))
    decoder.device = torch.device("cuda", 1)
    with torch.inference_mode():
        replay = decoder._graph(decoder.rows[1], 64, pool=None)
        replay()
    assert fake.current == 0, "the caller's current device is restored"
    kinds = {kind for kind, _, _ in fake.events}
    assert {"stream", "current_stream", "capture", "replay"} <= kinds
    assert all(current == 1 for _, current, _ in fake.events), fake.events
    assert all(asked == 1 for kind, _, asked in fake.events if kind != "replay"), "every stream on device 1"


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="capture on cuda:1 needs a host with two GPUs")
def test_captured_steps_on_a_second_gpu_give_the_eager_tokens(real_geometry) -> None:
    parts = real_geometry[torch.float32]
    stop = StopRule(parts.tokenizer, parts.model.config.vocab_size)
    model = parts.model.to("cuda:1")
    embeds = torch.randn(2, 12, model.config.hidden_size, device="cuda:1")
    answers = []
    for capture in (False, True):
        decoder = FastDecoder(model, stop, BucketPlan((1, 2), 512, 256), capture=capture)
        decoder.warm_up()
        answers.append(decoder.decode(embeds, [12, 9], [16, 16], braces=False))
    parts.model.to("cpu")
    assert answers[0] == answers[1]
