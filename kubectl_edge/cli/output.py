"""Render data for stdout the way kubectl does: JSON with 4-space indent, YAML with sorted keys."""

from __future__ import annotations

import json
import sys
from enum import Enum
from typing import Any


class OutputFormat(str, Enum):
    """Values of ``-o/--output`` for commands that print a document."""

    text = "text"
    json = "json"
    yaml = "yaml"


def dump(data: Any, fmt: OutputFormat) -> str:
    """Serialise ``data`` as JSON or YAML text (with a final newline)."""
    if fmt is OutputFormat.yaml:
        import yaml

        return str(yaml.safe_dump(data, sort_keys=True, default_flow_style=False))
    return json.dumps(data, indent=4, sort_keys=False) + "\n"


def emit(text: str) -> None:
    """Write data to stdout, the only stream that carries data."""
    sys.stdout.write(text)
    sys.stdout.flush()
