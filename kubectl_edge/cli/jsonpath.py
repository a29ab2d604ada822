"""kubectl's JSONPath templates (``-o jsonpath=...``), the subset kubeadm's users write.

Text outside braces is printed as it is; inside braces: field paths (``.a.b``, ``.items[0]``, ``[*]``,
``['key']``, ``@``), quoted literals (``{"\\n"}``), and ``{range PATH}...{end}``. Several results of one
expression are joined by a space, as kubectl joins them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from kubectl_edge.errors import ConfigError

_HINT = "write a template such as '{.token}{\"\\n\"}' (kubectl's JSONPath: fields, [N], [*], range ... end)"
_STEP = re.compile(r"\.\.?|\[(\*|-?\d+|'[^']*'|\"[^\"]*\")\]|[A-Za-z0-9_$-]+")


@dataclass(frozen=True)
class _Node:
    kind: str  # "text", "path", "range", "end"
    value: str


def _tokens(template: str) -> list[_Node]:
    nodes: list[_Node] = []
    position = 0
    while position < len(template):
        start = template.find("{", position)
        if start < 0:
            nodes.append(_Node("text", template[position:]))
            break
        if start > position:
            nodes.append(_Node("text", template[position:start]))
        end = _closing(template, start)
        inner = template[start + 1:end].strip()
        if inner.startswith(('"', "'")):
            try:
                literal = json.loads(inner if inner.startswith('"') else '"' + inner[1:-1] + '"')
            except json.JSONDecodeError:
                raise ConfigError(f"jsonpath: bad literal {inner}", _HINT) from None
            nodes.append(_Node("text", str(literal)))
        elif inner.startswith("range "):
            nodes.append(_Node("range", inner[len("range "):].strip()))
        elif inner == "end":
            nodes.append(_Node("end", ""))
        else:
            nodes.append(_Node("path", inner))
        position = end + 1
    return nodes


def _closing(template: str, start: int) -> int:
    quote = ""
    for index in range(start + 1, len(template)):
        char = template[index]
        if quote:
            if char == "\\":
                continue
            if char == quote and template[index - 1] != "\\":
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "}":
            return index
    raise ConfigError(f"jsonpath: unclosed {{ in {template!r}", _HINT)


def _steps(path: str) -> list[str]:
    path = path.strip()
    if path.startswith("$"):
        path = path[1:]
    if path.startswith("@"):
        path = path[1:]
    steps: list[str] = []
    position = 0
    while position < len(path):
        found = _STEP.match(path, position)
        if not found:
            raise ConfigError(f"jsonpath: cannot read {path[position:]!r} in {{{path}}}", _HINT)
        text = found.group(0)
        if text == "..":
            raise ConfigError("jsonpath: recursive descent (..) is not supported", _HINT)
        if text != ".":
            steps.append(text)
        position = found.end()
    return steps


def _evaluate(data: Any, path: str) -> list[Any]:
    current = [data]
    for step in _steps(path):
        following: list[Any] = []
        for item in current:
            if step.startswith("["):
                index = step[1:-1]
                if index == "*":
                    following.extend(item if isinstance(item, list) else
                                     list(item.values()) if isinstance(item, dict) else [])
                elif index[0] in "'\"":
                    if isinstance(item, dict) and index[1:-1] in item:
                        following.append(item[index[1:-1]])
                elif isinstance(item, list) and -len(item) <= int(index) < len(item):
                    following.append(item[int(index)])
            elif isinstance(item, dict) and step in item:
                following.append(item[step])
        current = following
    return current


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":")) if isinstance(value, (dict, list)) else \
        json.dumps(value) if isinstance(value, bool) else str(value)


def render(template: str, data: Any) -> str:
    """The template applied to ``data`` (a JSON-like document).

    Raises:
        ConfigError: The template is not one this subset reads (unclosed brace, unknown syntax, a range
            without end).
    """
    nodes = _tokens(template)
    output, position = _render(nodes, 0, data)
    if position < len(nodes):
        raise ConfigError("jsonpath: {end} without {range}", _HINT)
    return output


def _render(nodes: list[_Node], position: int, data: Any) -> tuple[str, int]:
    parts: list[str] = []
    while position < len(nodes):
        node = nodes[position]
        if node.kind == "end":
            return "".join(parts), position
        if node.kind == "text":
            parts.append(node.value)
        elif node.kind == "path":
            parts.append(" ".join(_text(value) for value in _evaluate(data, node.value)))
        else:
            body_start = position + 1
            _, body_end = _render(nodes, body_start, data)
            if body_end >= len(nodes):
                raise ConfigError("jsonpath: {range} without {end}", _HINT)
            for item in _evaluate(data, node.value):
                text, _ = _render(nodes, body_start, item)
                parts.append(text)
            position = body_end
        position += 1
    return "".join(parts), position


def parse_output(text: str) -> str | None:
    """The template of ``jsonpath=TEMPLATE`` (None for any other output format)."""
    for prefix in ("jsonpath=", "jsonpath:"):
        if text.startswith(prefix):
            template = text[len(prefix):]
            if not template.strip():
                raise ConfigError("-o jsonpath= needs a template", _HINT)
            return template
    return None
