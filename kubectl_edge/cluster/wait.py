"""Waiting for the cluster: one poll loop that every wait of kubectl-edge uses.

Controllers act asynchronously (a namespace empties, the bootstrap signer signs, an authenticator's cache
sees a new Secret), so commands ask again until the answer is there or the time is up. The loop checks
first and sleeps after, so a condition that already holds costs no wait; the clock and the sleep can be
given, so the loop is tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from kubectl_edge.errors import WaitTimeout

T = TypeVar("T")


def poll(check: Callable[[], T | None], timeout: float, interval: float, *, what: str,
         hint: str | None = None, backoff: float = 1.0, max_interval: float | None = None,
         clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``check`` until it returns something other than None, and return that.

    ``check`` runs at once, then after each pause; the first pause is ``interval`` seconds, each next one
    ``backoff`` times longer (at most ``max_interval``). Once ``timeout`` seconds have passed since the call
    and ``check`` still returned None, the wait ends with :class:`WaitTimeout`; ``check`` has then run at
    least once. Exceptions of ``check`` end the wait and propagate.

    Raises:
        WaitTimeout: ``{what} did not happen within {timeout}s``, with ``hint``; callers that have more to
            say (what is still missing) catch it and raise their own error.
    """
    deadline = clock() + timeout
    pause = interval
    while True:
        value = check()
        if value is not None:
            return value
        if clock() >= deadline:
            raise WaitTimeout(f"{what} did not happen within {timeout:g}s", hint)
        sleep(pause)
        pause = pause * backoff
        if max_interval is not None:
            pause = min(pause, max_interval)
