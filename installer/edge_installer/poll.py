"""Waiting on the node: the one poll loop of edgeadm (the installer cannot use kubectl-edge's).

What join waits for happens in other processes (kubelet's TLS bootstrap, the Node's registration), so
edgeadm looks again until it is there or the time is up. The loop checks first and pauses after, so what
already holds costs no wait; it says every ``report_every`` seconds what it is still waiting for. The clock
and the pause can be given, so the loop is tested without waiting.
"""

from __future__ import annotations

import time
from typing import Callable, Optional, TypeVar

from edge_installer.errors import WaitTimeout

T = TypeVar("T")


def poll(check: Callable[[], Optional[T]], timeout: float, interval: float, *, what: Callable[[], str],
         hint: Optional[str] = None, progress: Optional[Callable[[str], None]] = None,
         report_every: float = 10.0, clock: Callable[[], float] = time.monotonic,
         sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``check`` until it returns something other than None, and return that.

    ``what`` names what is awaited, asked each time ``check`` came back empty (it may change as the wait
    goes on); ``progress`` gets ``waiting for {what} ({elapsed} s)`` once every ``report_every`` seconds.
    Exceptions of ``check`` end the wait and propagate.

    Raises:
        WaitTimeout: ``timed out after {elapsed} s waiting for {what}``, with ``hint``.
    """
    started = clock()
    while True:
        value = check()
        if value is not None:
            return value
        elapsed = clock() - started
        if elapsed > timeout:
            raise WaitTimeout(f"timed out after {elapsed:.0f} s waiting for {what()}", hint)
        if progress is not None and int(elapsed // report_every) != int((elapsed - interval) // report_every):
            progress(f"waiting for {what()} ({elapsed:.0f} s)")
        sleep(interval)
