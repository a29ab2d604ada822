"""The journal: every change is recorded before it is made, and reset puts the node back byte for byte.

A scripted sequence of the changes join makes runs in a child process that kills itself after the k-th
journaled action (EDGEADM_FAULT_KILL_AFTER_ACTIONS), for every k; reset must then leave the root exactly
as it was (every path, its type, mode and content).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from clusterkit import file_tree
from edge_installer.changes import Changes, Undo
from edge_installer.errors import InstallerError
from edge_installer.journal import FAULT_KILL_AFTER_ACTIONS, FAULT_KILL_AFTER_UNDOS, Journal, journal_path
from edge_installer.output import Output
from edge_installer.reset import run_reset

REPO = Path(__file__).resolve().parents[2]
HOSTS = b"127.0.0.1 localhost\r\n::1 ip6-localhost"  # CRLF and no final newline

SCRIPT = """
import sys
sys.path[:0] = [{installer!r}, {repo!r}]
from edge_installer.changes import Changes
from edge_installer.output import Output
changes = Changes(sys.argv[1], Output(), False, {{"command": "join"}})
changes.set_hosts_block("hosts", "/etc/hosts", ["203.0.113.10 kubernetes.default"])
changes.write_file("package", "/usr/bin/kubelet", b"the package's kubelet", 0o755)
changes.write_file("package", "/usr/local/bin/tool", b"replaces a symbolic link", 0o755)
changes.write_file("kubelet", "/etc/kubernetes/bootstrap-kubelet.conf", b"token", 0o600)
changes.write_file("kubelet", "/etc/kubernetes/pki/ca.crt", b"ca", 0o644)
changes.write_file("kubelet", "/var/lib/kubelet/config.yaml", b"kind: KubeletConfiguration", 0o644)
changes.expect_runtime_state("start", ["/etc/kubernetes/kubelet.conf", "/var/lib/kubelet"])
print(len(changes.journal.actions))
""".format(installer=str(REPO / "installer"), repo=str(REPO))




@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A node root with files join touches: odd /etc/hosts, an old kubelet, a symlinked tool."""
    node = tmp_path / "node"
    (node / "etc").mkdir(parents=True)
    (node / "etc" / "hosts").write_bytes(HOSTS)
    os.chmod(node / "etc" / "hosts", 0o640)
    (node / "usr" / "bin").mkdir(parents=True)
    (node / "usr" / "bin" / "kubelet").write_bytes(b"the old kubelet")
    os.chmod(node / "usr" / "bin" / "kubelet", 0o700)
    (node / "usr" / "local" / "bin").mkdir(parents=True)
    os.symlink("../../bin/kubelet", node / "usr" / "local" / "bin" / "tool")
    return node


def _join(root: Path, kill_after: int = 0) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop(FAULT_KILL_AFTER_ACTIONS, None)
    if kill_after:
        env[FAULT_KILL_AFTER_ACTIONS] = str(kill_after)
    return subprocess.run([sys.executable, "-c", SCRIPT, str(root)], env=env, capture_output=True, text=True,
                          timeout=60)


def _quiet() -> Output:
    return Output(0, io.StringIO(), io.StringIO())


def test_a_full_run_then_reset_restores_the_tree(root: Path) -> None:
    before = file_tree(root)
    result = _join(root)
    assert result.returncode == 0, result.stderr
    assert (root / "usr" / "bin" / "kubelet").read_bytes() == b"the package's kubelet"
    assert stat.S_IMODE((root / "etc" / "kubernetes" / "bootstrap-kubelet.conf").stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "etc" / "hosts").stat().st_mode) == 0o640
    assert (root / "etc" / "hosts").read_bytes().startswith(HOSTS + b"\n# begin edgeadm")
    assert not (root / "usr" / "local" / "bin" / "tool").is_symlink()
    # What the started kubelet would write: reset removes it, as it was not there before join.
    (root / "var" / "lib" / "kubelet" / "pki").mkdir()
    (root / "var" / "lib" / "kubelet" / "pki" / "kubelet-client-current.pem").write_bytes(b"cert")
    (root / "etc" / "kubernetes" / "kubelet.conf").write_bytes(b"kubeconfig")
    assert run_reset(str(root), _quiet()) > 0
    assert file_tree(root) == before


def test_every_action_is_journaled_before_it_runs(root: Path) -> None:
    result = _join(root)
    count = int(result.stdout.strip())
    journal = Journal.load(str(root))
    assert journal is not None
    kinds = [entry["kind"] for entry in journal.actions]
    assert len(kinds) == count
    assert kinds[0] == "hosts" and kinds[-1] == "runtime-state"
    replaced = next(entry for entry in journal.actions if entry.get("path") == "/usr/bin/kubelet")
    old = hashlib.sha256(b"the old kubelet").hexdigest()
    assert replaced["previous"] == {"sha256": old, "mode": 0o700, "uid": os.getuid(), "gid": os.getgid()}
    assert Path(journal.backup_path(old)).read_bytes() == b"the old kubelet"
    assert stat.S_IMODE(os.stat(journal_path(str(root))).st_mode) == 0o600


def test_a_run_killed_after_each_action_is_undone_exactly(root: Path) -> None:
    before = file_tree(root)
    total = int(_join(root).stdout.strip())
    run_reset(str(root), _quiet())
    assert file_tree(root) == before
    for k in range(1, total + 1):
        result = _join(root, kill_after=k)
        assert result.returncode == -signal.SIGKILL, (k, result.stderr)
        journal = Journal.load(str(root))
        assert journal is not None and len(journal.actions) == k
        run_reset(str(root), _quiet())
        assert file_tree(root) == before, f"not restored after a kill after action {k}"


def test_a_reset_killed_half_way_finishes_on_the_next_run(root: Path) -> None:
    before = file_tree(root)
    _join(root)
    code = ("import sys; sys.path[:0] = [{!r}, {!r}]\nfrom edge_installer.reset import run_reset\n"
            "from edge_installer.output import Output\nrun_reset(sys.argv[1], Output())\n").format(
                str(REPO / "installer"), str(REPO))
    env = dict(os.environ, **{FAULT_KILL_AFTER_UNDOS: "3"})
    killed = subprocess.run([sys.executable, "-c", code, str(root)], env=env, stderr=subprocess.PIPE, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    journal = Journal.load(str(root))
    assert journal is not None and sum(1 for entry in journal.actions if entry["undone"]) == 3
    run_reset(str(root), _quiet())
    assert file_tree(root) == before
    assert run_reset(str(root), _quiet()) == 0  # idempotent: nothing left to do


def test_a_dry_run_changes_nothing_and_prints_every_change(root: Path) -> None:
    before = file_tree(root)
    printed = io.StringIO()
    changes = Changes(str(root), Output(0, printed, io.StringIO()), True, {})
    changes.set_hosts_block("hosts", "/etc/hosts", ["203.0.113.10 kubernetes.default"])
    changes.write_file("kubelet", "/etc/kubernetes/pki/ca.crt", b"CA PEM", 0o644)
    changes.write_file("kubelet", "/etc/kubernetes/bootstrap-kubelet.conf", b"token: x.y", 0o600,
                       shown="token: <hidden>")
    changes.run_command("start", ["systemctl", "restart", "kubelet"], [["systemctl", "stop", "kubelet"]])
    assert file_tree(root) == before
    text = printed.getvalue()
    for expected in ("would add to", "203.0.113.10 kubernetes.default", "would create directory",
                     "/etc/kubernetes/pki/ca.crt (mode 0644)", "    CA PEM", "token: <hidden>",
                     "would run: systemctl restart kubelet"):
        assert expected in text
    assert "token: x.y" not in text


def test_an_unchanged_file_is_not_journaled(root: Path) -> None:
    changes = Changes(str(root), _quiet(), False, {})
    assert not changes.write_file("package", "/usr/bin/kubelet", b"the old kubelet", 0o700)
    assert changes.journal is None
    assert not os.path.exists(journal_path(str(root)))


def test_reset_keeps_a_directory_that_holds_files_it_did_not_create(root: Path) -> None:
    changes = Changes(str(root), _quiet(), False, {})
    changes.write_file("kubelet", "/etc/kubernetes/pki/ca.crt", b"ca", 0o644)
    (root / "etc" / "kubernetes" / "admin-notes.txt").write_bytes(b"mine")
    errors = io.StringIO()
    run_reset(str(root), Output(0, io.StringIO(), errors))
    assert (root / "etc" / "kubernetes" / "admin-notes.txt").read_bytes() == b"mine"
    assert not (root / "etc" / "kubernetes" / "pki").exists()
    assert "holds files edgeadm did not create" in errors.getvalue()


def test_a_missing_backup_is_reported_and_the_journal_kept(root: Path) -> None:
    changes = Changes(str(root), _quiet(), False, {})
    changes.write_file("package", "/usr/bin/kubelet", b"new", 0o755)
    assert changes.journal is not None
    os.unlink(changes.journal.backup_path(hashlib.sha256(b"the old kubelet").hexdigest()))
    with pytest.raises(InstallerError) as caught:
        run_reset(str(root), _quiet())
    assert "could not be undone" in caught.value.message
    assert os.path.exists(journal_path(str(root)))


def test_undo_refuses_a_journal_entry_it_does_not_know(root: Path) -> None:
    journal = Journal.create(str(root), {})
    journal.record({"kind": "mystery"})
    with pytest.raises(InstallerError, match="unknown kind"):
        Undo(journal, _quiet(), False).undo(journal.actions[0])


def test_a_journal_of_another_format_is_refused(root: Path) -> None:
    path = Path(journal_path(str(root)))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"format": 99, "actions": []}))
    with pytest.raises(InstallerError, match="not an edgeadm journal of format 1"):
        Journal.load(str(root))


def test_a_hosts_file_join_created_is_removed_again(tmp_path: Path) -> None:
    before = file_tree(tmp_path)
    changes = Changes(str(tmp_path), _quiet(), False, {})
    assert changes.set_hosts_block("hosts", "/etc/hosts", ["203.0.113.10 kubernetes.default"])
    assert (tmp_path / "etc" / "hosts").read_text().startswith("# begin edgeadm")
    (tmp_path / "etc" / "hosts.edgeadm-tmp").write_text("left by a killed rewrite")
    run_reset(str(tmp_path), _quiet())
    assert file_tree(tmp_path) == before


def test_a_first_change_that_is_a_directory_beside_the_journal_is_made_and_undone(tmp_path: Path) -> None:
    """The journal creates /var/lib/edgeadm; a first change creating /var/lib/kubelet must not trip over it."""
    root = tmp_path / "node"
    root.mkdir()
    before = file_tree(root)
    changes = Changes(str(root), Output(), False, {"command": "join"})
    changes.ensure_dir("start", "/var/lib/kubelet")
    assert (root / "var/lib/kubelet").is_dir()
    run_reset(str(root), Output())
    assert file_tree(root) == before
