"""Preflight: measure what the cluster can do before anything is changed.

Permissions come from SelfSubjectAccessReviews; anonymous access from an anonymous request; bootstrap-token
authentication, the bootstrap signer and the token cleaner from short-lived probe tokens, because flags of
the API server and controller manager cannot be read on most clusters.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from dataclasses import asdict, dataclass
from typing import Any

from edge_protocol import jws, names
from edge_protocol import token as bootstrap_token
from kubectl_edge.cluster.client import Cluster
from kubectl_edge.cluster.kinds import CONFIG_MAP, SECRET, ObjectRef
from kubectl_edge.cluster.wait import poll
from kubectl_edge.errors import ClusterError, Forbidden, PreconditionFailed, Unauthorized, WaitTimeout

PROBE_TTL_SECONDS = 600
PROBE_WAIT_SECONDS = 10.0
CLUSTER_INFO = ObjectRef(CONFIG_MAP, "cluster-info", "kube-public")
PROBE_SELECTOR = f"{names.PURPOSE_KEY}={names.PURPOSE_PREFLIGHT_PROBE}"

# (verb, resource, API group, namespace) the addon and detach need.
REQUIRED: list[tuple[str, str, str, str | None]] = [
    *[("get", resource, group, None) for resource, group in (("services", ""), ("servicecidrs", "networking.k8s.io"))],
    *[(verb, "configmaps", "", ns) for ns in ("kube-public", "kube-system")
      for verb in ("get", "create", "patch", "update", "delete")],
    *[(verb, "secrets", "", "kube-system") for verb in ("list", "create", "delete")],
    *[(verb, resource, "rbac.authorization.k8s.io", ns) for ns in ("kube-public", "kube-system")
      for resource in ("roles", "rolebindings") for verb in ("create", "delete")],
    *[(verb, resource, "rbac.authorization.k8s.io", None) for resource in ("clusterroles", "clusterrolebindings")
      for verb in ("create", "delete")],
    ("bind", "clusterroles", "rbac.authorization.k8s.io", None),
    ("list", "nodes", "", None),
]


@dataclass
class Findings:
    """What preflight measured; remembered in the cluster for later commands."""

    server_version: str
    signer: bool | None = None
    cleaner: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Findings:
        """Read a remembered record (unknown keys ignored)."""
        known = {key: document[key] for key in cls.__dataclass_fields__ if key in document}
        return cls(**known)


def check_permissions(cluster: Cluster) -> None:
    """Raise PreconditionFailed listing every permission the current user lacks."""
    missing = []
    for verb, resource, group, namespace in REQUIRED:
        if not cluster.can_i(verb, resource, group, namespace):
            where = f" in namespace {namespace}" if namespace else " (cluster-wide)"
            missing.append(f"{verb} {resource}{where}")
    if missing:
        raise PreconditionFailed(
            "the current user lacks permissions kubectl edge addon needs: " + "; ".join(missing),
            "run it as a cluster admin (e.g. a user bound to cluster-admin), or grant those permissions")


def check_anonymous(cluster: Cluster) -> None:
    """Raise PreconditionFailed when the API server rejects anonymous requests (discovery needs them)."""
    with cluster.as_identity(None) as anonymous:
        try:
            anonymous.request("GET", CLUSTER_INFO.path)
        except Unauthorized as exc:
            raise PreconditionFailed(
                "the API server rejects anonymous requests, so edge nodes cannot read kube-public/cluster-info",
                "enable anonymous authentication (--anonymous-auth=true, or an AuthenticationConfiguration that "
                "allows anonymous access to /api/v1/namespaces/kube-public/configmaps/cluster-info)") from exc
        except (Forbidden, ClusterError):
            pass  # authenticated as system:anonymous; the RBAC for it is a prerequisite addon creates


class Probe:
    """Two short-lived tokens: a valid one (authentication, signing) and an expired one (cleaning)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.valid = bootstrap_token.generate_token()
        self.expired = bootstrap_token.generate_token()
        self.started = 0.0

    def _secret(self, token: bootstrap_token.BootstrapToken, expired: bool) -> dict[str, Any]:
        now = datetime.datetime.now(datetime.timezone.utc)
        data = bootstrap_token.build_secret_data(token, PROBE_TTL_SECONDS, now,
                                                 description="kubectl-edge preflight probe")
        if expired:
            data[bootstrap_token.KEY_EXPIRATION] = bootstrap_token.format_expiration(now - datetime.timedelta(hours=1))
        return {"apiVersion": "v1", "kind": "Secret", "type": bootstrap_token.SECRET_TYPE,
                "metadata": {"name": bootstrap_token.secret_name(token.id), "namespace": "kube-system",
                             "labels": {names.MANAGED_BY_KEY: names.MANAGED_BY_VALUE,
                                        names.PURPOSE_KEY: names.PURPOSE_PREFLIGHT_PROBE}},
                "stringData": data}

    def start(self) -> None:
        """Remove probes a killed run left behind, create fresh ones, and prove token authentication."""
        remove_probes(self.cluster)
        self.cluster.create(self._secret(self.valid, expired=False))
        self.cluster.create(self._secret(self.expired, expired=True))
        self.started = time.monotonic()
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        with self.cluster.as_identity(f"{self.valid.id}.{self.valid.secret}") as as_token:
            def accepted() -> dict[str, Any] | None:
                try:
                    answer: dict[str, Any] | None = as_token.request(
                        "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", body=review)
                except Unauthorized:
                    return None  # the authenticator reads Secrets through a cache: ask again before concluding
                return answer or {}

            try:
                answer = poll(accepted, PROBE_WAIT_SECONDS, 0.2, what="the probe token's authentication")
            except WaitTimeout:
                remove_probes(self.cluster)
                raise PreconditionFailed(
                    "the API server does not accept bootstrap tokens (a probe token was rejected)",
                    "enable bootstrap-token authentication (kube-apiserver --enable-bootstrap-token-auth=true); "
                    "managed clusters such as EKS do not offer it, so edge nodes cannot join them this way"
                ) from None
        user = (answer.get("status") or {}).get("userInfo") or {}
        if user.get("username") != bootstrap_token.user_name(self.valid.id):
            remove_probes(self.cluster)
            raise PreconditionFailed(f"a bootstrap token authenticated as {user.get('username')!r}, "
                                     f"not {bootstrap_token.user_name(self.valid.id)!r}",
                                     "check the API server's authentication configuration")

    def finish(self, cluster_info_exists: bool) -> tuple[bool | None, bool]:
        """Wait (at most a few seconds) for the signer and the cleaner to act; remove the probes.

        Returns (signer runs, or None when it could not be told without cluster-info; cleaner runs).
        """
        signer: bool | None = None if not cluster_info_exists else False
        cleaner = False

        def both_seen() -> bool | None:
            nonlocal signer, cleaner
            if not cleaner:
                cleaner = self.cluster.get(ObjectRef(SECRET, bootstrap_token.secret_name(self.expired.id),
                                                     "kube-system")) is None
            if signer is False:
                info = self.cluster.get(CLUSTER_INFO) or {}
                signer = jws.signature_key(self.valid.id) in (info.get("data") or {})
            return True if cleaner and signer is not False else None

        # The wait counts from the probes' creation: authentication was proven in the meantime.
        left = max(0.0, self.started + PROBE_WAIT_SECONDS - time.monotonic())
        with contextlib.suppress(WaitTimeout):  # what was not seen by then does not run
            poll(both_seen, left, 0.25, what="the bootstrap signer and token cleaner")
        remove_probes(self.cluster)
        return signer, cleaner


def remove_probes(cluster: Cluster) -> None:
    """Delete every probe token (also those of an interrupted run)."""
    for secret in list(cluster.list_objects(SECRET, "kube-system", label_selector=PROBE_SELECTOR)):
        cluster.delete(ObjectRef(SECRET, secret["metadata"]["name"], "kube-system"), uid=secret["metadata"]["uid"])
