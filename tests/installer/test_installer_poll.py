"""edgeadm's poll loop: the first answer, a line every report_every seconds, WaitTimeout with the hint.

A fake clock advances only when the loop sleeps, so every test is exact and none waits.
"""

from __future__ import annotations

from typing import Callable, List, Optional

import pytest
from edge_installer.errors import InstallerError, WaitTimeout
from edge_installer.poll import poll


class FakeTime:
    """A monotonic clock that moves only when ``sleep`` is called; remembers every pause."""

    def __init__(self) -> None:
        self.now = 500.0
        self.pauses: List[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def answers(*values: Optional[object]) -> Callable[[], Optional[object]]:
    queue = list(values)
    return lambda: queue.pop(0)


def test_an_answer_at_once_costs_no_pause() -> None:
    fake = FakeTime()
    assert poll(lambda: "cert.pem", 10, 0.5, what=lambda: "x", clock=fake.clock, sleep=fake.sleep) == "cert.pem"
    assert fake.pauses == []


def test_none_means_not_yet_and_the_answer_is_returned() -> None:
    fake = FakeTime()
    assert poll(answers(None, None, False), 10, 0.5, what=lambda: "x", clock=fake.clock, sleep=fake.sleep) is False
    assert fake.pauses == [0.5, 0.5]


def test_progress_every_report_period_names_what_is_awaited_now() -> None:
    fake = FakeTime()
    lines: List[str] = []
    stage = {"name": "the bootstrap"}

    def check() -> Optional[str]:
        if fake.now - 500.0 >= 15:
            stage["name"] = "the certificate"
        return "done" if fake.now - 500.0 >= 25 else None

    assert poll(check, 60, 0.5, what=lambda: stage["name"], progress=lines.append, clock=fake.clock,
                sleep=fake.sleep) == "done"
    # The first line comes with the first miss, then one each period.
    assert lines == ["waiting for the bootstrap (0 s)", "waiting for the bootstrap (10 s)",
                     "waiting for the certificate (20 s)"]


def test_timeout_says_how_long_and_what_with_the_hint() -> None:
    fake = FakeTime()
    calls: List[float] = []

    def never() -> Optional[str]:
        calls.append(fake.now)
        return None

    with pytest.raises(WaitTimeout) as timed_out:
        poll(never, 3, 1, what=lambda: "the Node e1 to register", hint="journalctl -xeu kubelet", clock=fake.clock,
             sleep=fake.sleep)
    assert timed_out.value.message == "timed out after 4 s waiting for the Node e1 to register"
    assert timed_out.value.hint == "journalctl -xeu kubelet"
    assert isinstance(timed_out.value, InstallerError)
    assert len(calls) == 5 and fake.pauses == [1, 1, 1, 1]


def test_an_exception_of_the_check_ends_the_wait() -> None:
    fake = FakeTime()

    def broken() -> Optional[str]:
        raise OSError("kubelet.conf is unreadable")

    with pytest.raises(OSError, match="unreadable"):
        poll(broken, 10, 0.5, what=lambda: "x", clock=fake.clock, sleep=fake.sleep)
    assert fake.pauses == []
