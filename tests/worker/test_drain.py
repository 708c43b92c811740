"""The draining loop with its parts replaced by plain functions: it stops after two checks in a
row find no work, sweeps on every check, and gives up on a broker out of reach too long."""

from __future__ import annotations

import threading

from worker.drain import Drain


def _drain(pending: list[int], reachable: list[bool], broker_wait: float = 60.0) -> tuple[Drain, list[str]]:
    calls: list[str] = []
    stopped = threading.Event()

    def stop() -> None:
        calls.append("stop")
        stopped.set()

    drain = Drain(
        broker_reachable=lambda: reachable.pop(0) if len(reachable) > 1 else reachable[0],
        sweep=lambda: calls.append("sweep"),
        pending=lambda: pending.pop(0) if len(pending) > 1 else pending[0],
        stop=stop,
        interval=0.001,
        broker_wait=broker_wait,
        broker="redis://127.0.0.1:6379/0",
    )
    return drain, calls


def test_stops_after_two_checks_in_a_row_find_nothing_left() -> None:
    drain, calls = _drain(pending=[3, 0, 1, 0, 0], reachable=[True])
    drain.run()
    assert calls == ["sweep"] * 5 + ["stop"]
    assert drain.gave_up is None


def test_an_unreachable_broker_is_waited_for_then_given_up_on() -> None:
    drain, calls = _drain(pending=[0], reachable=[False, False, True, True, True])
    drain.run()
    assert drain.gave_up is None and calls == ["sweep", "sweep", "stop"], "it waited, then drained"

    drain, calls = _drain(pending=[5], reachable=[False], broker_wait=0.05)
    drain.run()
    assert calls == ["stop"]
    assert drain.gave_up is not None and "unreachable for 0 s (PRONSCORE_BROKER_WAIT_SECONDS)" in drain.gave_up


def test_a_failed_check_is_tried_again() -> None:
    drain, calls = _drain(pending=[0], reachable=[True])
    failures = [RuntimeError("database restarting")]

    def sweep() -> None:
        calls.append("sweep")
        if failures:
            raise failures.pop()

    drain.sweep = sweep
    drain.run()
    assert calls == ["sweep", "sweep", "sweep", "stop"]
