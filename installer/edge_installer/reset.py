"""``edgeadm reset``: undo the journal in reverse, entry by entry, marking each undone as it goes.

Idempotent and resumable: an entry whose effect is already gone is skipped, and a reset killed half-way
continues where it stopped. Nothing that the journal does not name is touched; when everything is undone
the journal, its backups and the directories it created are removed.
"""

from __future__ import annotations

from typing import List

from edge_installer import system
from edge_installer.changes import Undo
from edge_installer.errors import InstallerError
from edge_installer.journal import Entry, Journal, journal_path, remove_empty_state_dir
from edge_installer.output import Output

PHASE = "reset"
NOT_CLEANED = (
    "The reset does not delete the Node object in the cluster: delete it there (kubectl delete node NAME).",
    "The container runtime, its images, CNI configuration (/etc/cni/net.d) and iptables/IPVS rules are left as they "
    "are.",
)


def run_reset(root: str, out: Output, dry_run: bool = False) -> int:
    """Undo everything the journal under ``root`` records; return the number of entries undone.

    Raises:
        InstallerError: An entry could not be undone (the journal keeps it; run reset again after fixing it).
    """
    journal = Journal.load(root)
    if journal is None:
        if not dry_run:
            remove_empty_state_dir(root)
        out.progress(PHASE, f"nothing to reset: there is no journal at {journal_path(root)}")
        return 0
    undo = Undo(journal, out, dry_run)
    pending = [entry for entry in reversed(journal.actions) if not entry.get("undone")]
    _say_what_crictl_leaves(pending, out)
    out.progress(PHASE, f"undoing {len(pending)} change(s) recorded in {journal.path}")
    failures: List[str] = []
    for entry in pending:
        try:
            done = undo.undo(entry)
        except (InstallerError, OSError) as exc:
            message = exc.message if isinstance(exc, InstallerError) else str(exc)
            failures.append(message)
            out.warn(PHASE, message)
            continue
        if done:
            out.data(f"[reset] {done}")
        if not dry_run:
            journal.mark_undone(entry)
    if undo.systemd_touched and not dry_run:
        try:
            system.systemctl(["daemon-reload"])
        except InstallerError as exc:
            out.warn(PHASE, exc.message)
    if failures:
        raise InstallerError(f"{len(failures)} change(s) could not be undone; the journal keeps them",
                             "fix what the warnings say, then run edgeadm reset again")
    if not dry_run:
        journal.discard()
        if undo.kept:
            out.progress(PHASE, f"the node is back to its state before join but for {len(undo.kept)} file(s) that "
                                f"changed after join and were kept ({', '.join(undo.kept[:3])}"
                                f"{', ...' if len(undo.kept) > 3 else ''}); the journal is removed")
        else:
            out.progress(PHASE, "the node is back to its state before join; the journal is removed")
    for line in NOT_CLEANED:
        out.progress(PHASE, line)
    return len(pending)


def _say_what_crictl_leaves(pending: List[Entry], out: Output) -> None:
    """Without crictl, the pods kubelet started stay in the runtime: say exactly that, and how to remove them."""
    uses_crictl = any(argv and argv[0] == "crictl" for entry in pending for argv in entry.get("undo") or [])
    if uses_crictl and system.find_program("crictl") is None:
        out.warn(PHASE, "crictl is not installed, so the containers of the pods kubelet ran stay in the container "
                        "runtime (containerd namespace k8s.io): remove them with crictl rmp --all --force once crictl "
                        "is installed, or with ctr -n k8s.io tasks kill / containers rm")
