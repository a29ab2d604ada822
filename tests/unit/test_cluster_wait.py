"""The one poll loop: returns the first answer, paces itself as asked, and times out with WaitTimeout.

A fake clock advances only when the loop sleeps, so every test is exact and none waits.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from edge_protocol import exitcodes
from kubectl_edge.cluster.wait import poll
from kubectl_edge.errors import WaitTimeout


class FakeTime:
    """A monotonic clock that moves only when ``sleep`` is called; remembers every pause."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.pauses: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def answers(*values: object) -> Callable[[], object]:
    """A check that returns the given values in turn (and records how often it ran)."""
    queue = list(values)

    def check() -> object:
        check.calls += 1  # type: ignore[attr-defined]
        return queue.pop(0)

    check.calls = 0  # type: ignore[attr-defined]
    return check


def test_an_answer_at_once_costs_no_sleep() -> None:
    fake = FakeTime()
    assert poll(lambda: "ready", 10, 1, what="x", clock=fake.clock, sleep=fake.sleep) == "ready"
    assert fake.pauses == []


def test_none_means_not_yet_and_falsy_answers_count() -> None:
    fake = FakeTime()
    check = answers(None, None, False)
    assert poll(check, 10, 0.5, what="x", clock=fake.clock, sleep=fake.sleep) is False
    assert fake.pauses == [0.5, 0.5]
    assert check.calls == 3  # type: ignore[attr-defined]


def test_backoff_grows_the_pause_up_to_the_limit() -> None:
    fake = FakeTime()
    check = answers(None, None, None, None, None, None, "done")
    assert poll(check, 60, 0.02, backoff=2.0, max_interval=0.1, what="x", clock=fake.clock,
                sleep=fake.sleep) == "done"
    assert fake.pauses == pytest.approx([0.02, 0.04, 0.08, 0.1, 0.1, 0.1])


def test_the_timeout_is_a_wait_timeout_with_message_and_hint() -> None:
    fake = FakeTime()
    calls: list[float] = []

    def never() -> None:
        calls.append(fake.now)

    with pytest.raises(WaitTimeout) as timed_out:
        poll(never, 3, 1, what="the deletion of namespace edge-system", hint="look at its finalizers",
             clock=fake.clock, sleep=fake.sleep)
    assert timed_out.value.message == "the deletion of namespace edge-system did not happen within 3s"
    assert timed_out.value.hint == "look at its finalizers"
    assert timed_out.value.exit_code == exitcodes.TIMEOUT
    # Checked at the start and after each pause, the last time once the deadline has passed.
    assert calls == [1000.0, 1001.0, 1002.0, 1003.0]


def test_a_zero_timeout_still_checks_once() -> None:
    fake = FakeTime()
    assert poll(lambda: 7, 0, 1, what="x", clock=fake.clock, sleep=fake.sleep) == 7
    check = answers(None)
    with pytest.raises(WaitTimeout):
        poll(check, 0, 1, what="x", clock=fake.clock, sleep=fake.sleep)
    assert check.calls == 1 and fake.pauses == []  # type: ignore[attr-defined]


def test_an_error_of_the_check_ends_the_wait() -> None:
    fake = FakeTime()

    def broken() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        poll(broken, 10, 1, what="x", clock=fake.clock, sleep=fake.sleep)
    assert fake.pauses == []
