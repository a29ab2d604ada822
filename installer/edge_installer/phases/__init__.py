"""The phases of ``edgeadm join``, in order; each module has ``run(context)``.

Only names and one-line descriptions live here, so ``edgeadm --help`` does not import the phases.
"""

from __future__ import annotations

from typing import List, Tuple

#: (name, module, what it does), in the order join runs them (SPEC 4.1).
JOIN_PHASES: List[Tuple[str, str, str]] = [
    ("preflight", "preflight", "check this machine, the endpoint and the install package; change nothing"),
    ("discovery", "discovery", "find and verify the cluster (token signature, CA pin); read kubelet-config, "
                               "edge-info"),
    ("hosts", "hosts", "map the API server's IP to kubernetes.default in /etc/hosts"),
    ("package", "package", "install kubelet, the other binaries and the CNI plugins from the install package"),
    ("lite-apiserver", "liteapiserver", "edge autonomy: run lite-apiserver between kubelet and the API server"),
    ("kubelet", "kubelet", "write kubelet's bootstrap kubeconfig, CA, configuration, flags and systemd unit"),
    ("start", "start", "start kubelet; wait for its TLS bootstrap and for the Node to register"),
]
PHASE_NAMES = [name for name, _, _ in JOIN_PHASES]


def describe() -> str:
    """The phase list for ``edgeadm join --help``."""
    width = max(len(name) for name in PHASE_NAMES)
    return "\n".join(f"  {name:<{width}}  {text}" for name, _, text in JOIN_PHASES)
