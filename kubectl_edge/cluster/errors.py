"""Turn the client's exceptions (ApiException, urllib3 errors) into kubectl-edge's error types."""

from __future__ import annotations

import json

from kubectl_edge.errors import (
    AlreadyExists,
    ClusterError,
    ClusterUnreachable,
    Conflict,
    EdgeError,
    Forbidden,
    Invalid,
    NotFound,
    Unauthorized,
)

_BY_STATUS: dict[int, type[ClusterError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Invalid,
}
_HINTS: dict[type[ClusterError], str] = {
    Unauthorized: "check the credentials of the kubeconfig's user",
    Forbidden: "ask a cluster admin for the permission, or use a context with more rights",
}


#: How much of a body that is not a ``Status`` the message shows (client-go's maxUnstructuredResponseTextBytes).
MAX_UNSTRUCTURED_BODY = 2048


def unstructured_text(body: str) -> str:
    """A body that is not a ``Status`` as a message shows it: printable, cut at :data:`MAX_UNSTRUCTURED_BODY`."""
    text = "".join(ch if ch.isprintable() or ch in "\n\t" else "?" for ch in body.strip())
    if len(text) > MAX_UNSTRUCTURED_BODY:
        return text[:MAX_UNSTRUCTURED_BODY] + f"... ({len(text) - MAX_UNSTRUCTURED_BODY} more characters cut)"
    return text


def error_from_status(status: int, body: str, what: str = "") -> ClusterError:
    """The error for an HTTP error status and its ``Status`` body, worded as kubectl words it.

    A body that is not a ``Status`` (a proxy's HTML page) is shown cut, as kubectl does.
    """
    try:
        document = json.loads(body or "{}")
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    reason = str(document.get("reason") or "")[:200]
    message = unstructured_text(str(document.get("message") or body or what))
    kind = _BY_STATUS.get(status, ClusterError)
    if kind is Conflict and reason == "AlreadyExists":
        kind = AlreadyExists
    return kind(f"Error from server ({reason or status}): {message}", _HINTS.get(kind), status=status, reason=reason)


def unreachable(server: str, cause: BaseException) -> ClusterUnreachable:
    """The error for a request that got no HTTP answer (refused, DNS, TLS, timeout), with its cause."""
    return ClusterUnreachable(f"cannot reach the API server {server}: {cause}",
                              "check that the cluster is running and that --kubeconfig/--context point at it")


def translate(exc: BaseException, server: str = "") -> EdgeError:
    """Map a client exception to an EdgeError with kubectl's ``Error from server (Reason): ...`` wording."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    if isinstance(exc, EdgeError):
        return exc
    if isinstance(exc, ApiException):
        return error_from_status(int(exc.status or 0), str(exc.body or exc.reason or ""))
    if isinstance(exc, (HTTPError, OSError)):
        # urllib3 wraps the socket error (refused, DNS, TLS) in MaxRetryError.reason; show the innermost.
        cause: BaseException = exc
        while isinstance(getattr(cause, "reason", None), BaseException):
            cause = getattr(cause, "reason")  # noqa: B009
        return unreachable(server, cause)
    return EdgeError(f"unexpected error talking to the API server: {exc}", "re-run with -v=6 for details")
