"""The callback through which domain code reports progress: ``notify(phase, message)``.

Domain and cluster code never print; the CLI passes a function that renders each note (or collects it for
``-o json``). ``phase`` names the step (``drain``, ``signer``, ``detach``...), ``message`` says what was done.
"""

from __future__ import annotations

from collections.abc import Callable

Notify = Callable[[str, str], None]
