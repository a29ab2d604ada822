"""The single funnel from an exception to a message on stderr and an exit code."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import TypeVar

from edge_protocol import exitcodes
from kubectl_edge.errors import EdgeError

T = TypeVar("T")

#: ``-v`` at or above this level prints the traceback of a failure.
TRACEBACK_VERBOSITY = 4


def report(message: str, hint: str | None = None) -> None:
    """Print an ``error:`` line and an optional ``hint:`` line on stderr."""
    sys.stderr.write(f"error: {message}\n")
    if hint:
        sys.stderr.write(f"hint: {hint}\n")
    sys.stderr.flush()


def run_guarded(function: Callable[[], T], verbosity: Callable[[], int]) -> int:
    """Run ``function``; turn any exception into a reported message and return the exit code.

    ``verbosity`` is asked only once something failed: the ``-v`` flag is parsed inside ``function``, so
    the level is known only then (and is 0 when parsing the flags is what failed).
    """
    try:
        function()
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return exitcodes.SUCCESS
        return code if isinstance(code, int) else exitcodes.ERROR
    except EdgeError as exc:
        if verbosity() >= TRACEBACK_VERBOSITY:
            traceback.print_exc(file=sys.stderr)
        report(exc.message, exc.hint)
        return exc.exit_code
    except KeyboardInterrupt:
        report("interrupted")
        return exitcodes.INTERRUPTED
    except Exception as exc:
        message = f"unexpected {type(exc).__name__}: {exc}"
        if verbosity() >= TRACEBACK_VERBOSITY:
            traceback.print_exc(file=sys.stderr)
            report(message)
        else:
            report(message, f"re-run with -v={TRACEBACK_VERBOSITY} for the traceback")
        return exitcodes.ERROR
    return exitcodes.SUCCESS
