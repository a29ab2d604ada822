"""Phase 1, preflight: is this machine ready, does the endpoint answer, is the package right? Changes nothing.

Host checks are collected and reported together; ``--ignore-preflight-errors NAME,...`` (or ``all``) turns
named ones into warnings. The endpoint, clock and package checks stop at their first failure with the
message of their kind.
"""

from __future__ import annotations

import os
from typing import Callable, List, Optional, Tuple

from edge_installer import system
from edge_installer.config import (
    BOOTSTRAP_KUBECONFIG,
    DUMMY_INTERFACE,
    KUBELET_DIR,
    KUBELET_KUBECONFIG,
    LITE_APISERVER_BINARY,
    node_name_problem,
)
from edge_installer.discovery import check_clock
from edge_installer.errors import PreconditionError
from edge_installer.join import JoinContext
from edge_installer.journal import journal_path

PHASE = "preflight"
#: Space a join needs besides the package's files (kubelet's state, logs, the journal's backups).
DISK_MARGIN = 100 * 1024 * 1024


def _root(context: JoinContext) -> Optional[str]:
    if context.options.root_given or system.is_root():
        return None
    return "edgeadm join must run as root (it writes /etc/hosts, /etc/kubernetes and systemd units)"


def _linux(context: JoinContext) -> Optional[str]:
    name = system.operating_system()
    return None if name == "linux" else f"edge nodes run Linux; this is {name}"


def _already_joined(context: JoinContext) -> Optional[str]:
    for node_path in (journal_path("/"), KUBELET_KUBECONFIG, BOOTSTRAP_KUBECONFIG):
        path = context.changes.host(node_path)
        if os.path.lexists(path):
            return f"this node is joined already, or a join was interrupted ({path} exists): run edgeadm reset first"
    return None


def _node_name(context: JoinContext) -> Optional[str]:
    return node_name_problem(context.options.node_name)


def _kubelet_dir(context: JoinContext) -> Optional[str]:
    path = context.changes.host(KUBELET_DIR)
    if os.path.isdir(path) and os.listdir(path):
        return f"{path} is not empty: another kubelet ran here; run edgeadm reset (or clean it) first"
    return None


def _systemd(context: JoinContext) -> Optional[str]:
    if "start" in context.options.skip_phases or system.find_program("systemctl") is not None:
        return None
    return "systemctl is not available, so the start phase cannot start kubelet: skip it with --skip-phases start"


def _dummy_interface(context: JoinContext) -> Optional[str]:
    """With edge autonomy ahead, the virtual address needs a dummy interface: can this kernel make one?

    Refused rather than silently joined without autonomy: whoever put lite-apiserver into the package
    expects the node to survive a cut link, and learning otherwise during an outage is the worst time.
    Whether autonomy is ahead depends on edge-info, so this check runs discovery (read-only) when the package
    carries lite-apiserver.
    """
    options = context.options
    package = context.package()
    if options.cloud or options.no_autonomy or "lite-apiserver" in options.skip_phases or package is None or \
            not package.has(LITE_APISERVER_BINARY):
        return None
    if not context.autonomy().on or system.interface_exists(DUMMY_INTERFACE):
        return None
    problem = system.can_make_dummy_interface()
    if problem is None:
        return None
    return (f"edge autonomy needs a dummy network interface ({DUMMY_INTERFACE}) for lite-apiserver's virtual "
            f"address, and this machine cannot make one ({problem}): load the dummy module (modprobe dummy), or "
            "join without edge autonomy with --no-autonomy")


def _disk(context: JoinContext) -> Optional[str]:
    package = context.package()
    needed = DISK_MARGIN + (package.install_size if package else 0)
    free = system.free_bytes(context.options.root)
    if free >= needed:
        return None
    return f"not enough free disk space: {free / 1e6:.0f} MB free, join needs {needed / 1e6:.0f} MB"


def run(context: JoinContext) -> None:
    """Run the checks; raise one error listing every failed host check, or the first endpoint/package error.

    Raises:
        PreconditionError: A check failed that was not ignored.
    """
    out = context.out
    options = context.options
    out.progress(PHASE, "running pre-flight checks")
    if options.root_given:
        out.progress(PHASE, f"treating {options.root} as the root directory (--root); the root user check is off")
    checks: List[Tuple[str, Callable[[JoinContext], Optional[str]]]] = [
        ("root", _root), ("linux", _linux), ("already-joined", _already_joined), ("node-name", _node_name),
        ("kubelet-dir", _kubelet_dir), ("systemd", _systemd)]
    failures = _collect(context, checks)
    answer = context.probe()
    out.progress(PHASE, f"the endpoint {options.host}:{options.port} answers as a Kubernetes API server")
    check_clock(answer)
    context.package()
    version = answer.json() if answer.status == 200 else None
    if isinstance(version, dict):
        context.check_skew(version)
    failures += _collect(context, [("disk", _disk), ("dummy-interface", _dummy_interface)])
    if failures:
        raise PreconditionError("pre-flight checks failed:\n" + "\n".join(f"  [{name}] {text}" for name, text in
                                                                         failures),
                                "fix these, or ignore named checks with --ignore-preflight-errors=NAME,... (at your "
                                "own risk)")
    out.progress(PHASE, "all checks passed")


def _collect(context: JoinContext, checks: List[Tuple[str, Callable[[JoinContext], Optional[str]]]]
             ) -> List[Tuple[str, str]]:
    ignored = context.options.ignore_preflight_errors
    failures = []
    for name, check in checks:
        problem = check(context)
        if problem is None:
            continue
        if name in ignored or "all" in ignored:
            context.out.warn(PHASE, f"[{name}] {problem} (ignored)")
        else:
            failures.append((name, problem))
    return failures
