"""What a kubelet of a given version needs to work behind SuperEdge's lite-apiserver.

lite-apiserver (SuperEdge's v0.9 line) proxies and caches plain JSON lists and watches. A kubelet whose
client-go sends streaming watch-list requests (the ``WatchListClient`` gate) gets answers lite-apiserver
cannot read: kube-apiserver gzips the stream, lite-apiserver decodes the raw bytes as JSON, its cache
goroutine stops, and the kubelet never receives its issued client certificate. So edge autonomy turns the
gate off — only for kubelets that know it, since a kubelet refuses to start with a gate it does not know.

Facts (client-go's ``features/known_features.go``): ``WatchListClient`` exists from 1.30 (off by default)
and is on by default from 1.35. The newest minor checked against lite-apiserver is
:data:`NEWEST_CHECKED_MINOR`; a newer kubelet gets the same gates and a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from edge_protocol.versions import KubeVersion

#: Feature gate, first minor that knows it, first minor where it is on by default.
WATCH_LIST_CLIENT: Tuple[str, int, int] = ("WatchListClient", 30, 35)
#: The newest kubelet minor run behind lite-apiserver by this project's tests.
NEWEST_CHECKED_MINOR = 37


@dataclass(frozen=True)
class KubeletFit:
    """The feature gates edge autonomy sets for one kubelet version, and why."""

    gates: Dict[str, bool] = field(default_factory=dict)
    reasons: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)

    def flag(self) -> Optional[str]:
        """kubelet's ``--feature-gates`` value, or None when no gate is set."""
        if not self.gates:
            return None
        return ",".join(f"{name}={'true' if value else 'false'}" for name, value in sorted(self.gates.items()))


def fit_for_lite_apiserver(kubelet_version: Optional[str]) -> KubeletFit:
    """The gates a kubelet of ``kubelet_version`` (``v1.37.2``; None when unknown) needs behind lite-apiserver."""
    if not kubelet_version:
        gate, _, default_on_since = WATCH_LIST_CLIENT
        return KubeletFit(warnings=[
            "the install package does not state its kubelet version, so edgeadm cannot tell whether the kubelet "
            "sends streaming watch-list requests lite-apiserver cannot read; if the kubelet is "
            f"1.{default_on_since} or newer, add --feature-gates={gate}=false to KUBELET_EXTRA_ARGS in "
            "/etc/default/kubelet"])
    version = KubeVersion.read(kubelet_version)
    if version is None:
        return fit_for_lite_apiserver(None)
    major, minor = version.major, version.minor
    gate, known_since, default_on_since = WATCH_LIST_CLIENT
    if major != 1 or minor < known_since:
        return KubeletFit()
    default = "on by default" if minor >= default_on_since else f"off by default, on from 1.{default_on_since}"
    fit = KubeletFit(gates={gate: False}, reasons=[
        f"{gate}=false: kubelet {kubelet_version} can send streaming watch-list requests ({default}), which "
        "lite-apiserver cannot read"])
    if minor > NEWEST_CHECKED_MINOR:
        fit.warnings.append(f"kubelet {kubelet_version} is newer than 1.{NEWEST_CHECKED_MINOR}, the newest this "
                            "edgeadm has seen working behind lite-apiserver; if the kubelet does not start, look for "
                            f"an unknown or locked feature gate {gate} in its log")
    return fit
