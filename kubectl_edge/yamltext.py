"""Reading YAML with libyaml's parser when PyYAML was built with it.

``yaml.CSafeLoader`` builds the same Python objects as ``yaml.safe_load`` (the constructor and resolver are
the pure-Python ones; only scanning and parsing run in C) about ten times faster, which matters for the
chart's files and kubeconfigs read on every command. Writing stays with the pure-Python emitter, whose output
kubectl-edge stores and compares across runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> Any:
    """The one YAML document in ``text``, as ``yaml.safe_load`` would return it."""
    return yaml.load(text, Loader=_SafeLoader)


def load_all(text: str) -> Iterator[Any]:
    """Each YAML document in ``text``, as ``yaml.safe_load_all`` would yield them."""
    return yaml.load_all(text, Loader=_SafeLoader)
