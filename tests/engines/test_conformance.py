"""Every registered engine through the same cases (`conformance`): a new engine in the registry
is tested here once it says, in `TEST_SETTINGS`, how tests load it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engines import Engine, load_engine
from engines.registry import ENGINES
from tests.engines.conformance import CASES, an_unreadable_file_fails_alone

# Each registered engine's settings in tests, as `PRONSCORE_*` values (phi4mm: the tiny
# checkpoint, with few decode shapes to warm up).
TEST_SETTINGS: dict[str, Callable[[pytest.FixtureRequest], dict[str, str]]] = {
    "gop": lambda request: {},
    "phi4mm": lambda request: {
        "model": str(request.getfixturevalue("tiny_model")),
        "batch_sizes": "1,2,4,8",
        "decode_cache_tokens": str(8 * 4096),
    },
}
# Cases an engine fails today, each with the reason; the mark is strict, so a fix must remove it.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


def test_every_registered_engine_says_how_tests_load_it() -> None:
    assert set(TEST_SETTINGS) == set(ENGINES), "add the new engine's test settings to TEST_SETTINGS"


@pytest.fixture(scope="module")
def registered(request: pytest.FixtureRequest) -> Iterator[tuple[str, Engine]]:
    """The engine named by the test's parameter, loaded once per module."""
    engine = load_engine(request.param, **TEST_SETTINGS[request.param](request))
    yield request.param, engine
    engine.close()


def _cases() -> Iterator[object]:
    for name in sorted(ENGINES):
        for case in CASES:
            reason = KNOWN_FAILURES.get((name, case))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(name, case, marks=marks, id=f"{name}-{case}")


@pytest.mark.parametrize(("registered", "case"), _cases(), indirect=["registered"])
def test_engine(registered: tuple[str, Engine], case: str) -> None:
    name, engine = registered
    CASES[case](engine, name)


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_score_fails_an_unreadable_file_alone(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    environment = {f"PRONSCORE_{key.upper()}": value for key, value in TEST_SETTINGS[name](request).items()}
    an_unreadable_file_fails_alone(name, environment, tmp_path)
