"""Names kubectl-edge puts on cluster objects; shared so every command recognises its own."""

from __future__ import annotations

#: On every object kubectl-edge creates.
MANAGED_BY_KEY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "kubectl-edge"
#: On bootstrap-token Secrets: why kubectl-edge made the token.
PURPOSE_KEY = "kubectl-edge.io/purpose"
PURPOSE_PREFLIGHT_PROBE = "preflight-probe"
PURPOSE_JOIN = "join"
