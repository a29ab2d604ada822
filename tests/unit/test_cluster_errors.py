"""API error bodies become kubectl-style messages; a body that is not a Status is cut, as kubectl cuts it."""

from __future__ import annotations

import json

from kubectl_edge.cluster.errors import MAX_UNSTRUCTURED_BODY, error_from_status
from kubectl_edge.errors import Forbidden


def test_a_status_body_gives_its_reason_and_message() -> None:
    body = json.dumps({"kind": "Status", "reason": "Forbidden", "message": "secrets is forbidden"})
    error = error_from_status(403, body)
    assert isinstance(error, Forbidden)
    assert error.message == "Error from server (Forbidden): secrets is forbidden"


def test_a_body_that_is_not_json_is_cut() -> None:
    page = "<html>" + "proxy error page " * 1000 + "</html>"
    error = error_from_status(502, page)
    assert error.message.startswith("Error from server (502): <html>proxy error page")
    assert len(error.message) < MAX_UNSTRUCTURED_BODY + 100
    assert f"({len(page) - MAX_UNSTRUCTURED_BODY} more characters cut)" in error.message


def test_control_characters_of_a_body_are_not_passed_to_the_terminal() -> None:
    error = error_from_status(500, "oops\x1b[2J\x07 done")
    assert "\x1b" not in error.message and "\x07" not in error.message
    assert error.message == "Error from server (500): oops?[2J? done"
