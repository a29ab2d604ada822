"""The node side's smaller defences: --root containment, fresh temporary files, locks, what reset keeps,
package members (sparse files, names under bin/, a linked kubelet, the CNI tarball's memory), package URLs.

Every refusal is checked to leave the files (inside and outside the root) exactly as they were.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
from clusterkit import file_tree
from edge_installer.changes import Changes
from edge_installer.cli import main
from edge_installer.errors import InstallerError, PackageError
from edge_installer.fsutil import exclusive_lock, replace_atomically, tmp_path
from edge_installer.output import Output
from edge_installer.package import inspect
from edge_installer.reset import run_reset

from edge_protocol import package as layout

ELF_AMD64 = b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00\x3e\x00"
ELF_ARM64 = b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00\xb7\x00"
JOIN = ["join", "127.0.0.1:1", "--token", "abcdef.0123456789abcdef", "--discovery-token-ca-cert-hash",
        "sha256:" + "a" * 64, "--node-name", "edge-1", "--skip-phases", "start"]


def _quiet() -> Output:
    return Output(0, io.StringIO(), io.StringIO())


# --- --root: a symbolic link inside the root does not lead writes out of it ------------------------------------

def test_a_write_through_a_symlink_inside_the_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "host-etc"
    outside.mkdir()
    (outside / "hosts").write_bytes(b"127.0.0.1 localhost\n")
    root = tmp_path / "node"
    root.mkdir()
    (root / "etc").symlink_to(outside)
    before_outside, before_root = file_tree(outside), file_tree(root)
    changes = Changes(str(root), _quiet(), False, {"command": "join"})
    with pytest.raises(InstallerError, match=r"leads out of the root directory .* through a symbolic link"):
        changes.write_file("kubelet", "/etc/kubernetes/pki/ca.crt", b"ca", 0o644)
    with pytest.raises(InstallerError, match="through a symbolic link"):
        changes.set_hosts_block("hosts", "/etc/hosts", ["198.18.0.1 kubernetes.default"])
    assert file_tree(outside) == before_outside and file_tree(root) == before_root


def test_reset_does_not_remove_through_a_symlink_planted_after_join(tmp_path: Path) -> None:
    root = tmp_path / "node"
    root.mkdir()
    changes = Changes(str(root), _quiet(), False, {"command": "join"})
    changes.write_file("kubelet", "/etc/kubernetes/kubelet.conf", b"ours", 0o600)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "kubelet.conf").write_bytes(b"ours")  # same bytes, so only containment protects it
    os.rename(root / "etc/kubernetes", tmp_path / "moved")
    (root / "etc/kubernetes").symlink_to(victim)
    with pytest.raises(InstallerError):
        run_reset(str(root), _quiet())
    assert (victim / "kubelet.conf").read_bytes() == b"ours"


# --- temporary files are always new -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["hard link", "symbolic link"])
def test_a_link_planted_at_the_temporary_name_is_not_written_through(tmp_path: Path, kind: str) -> None:
    victim = tmp_path / "shadow"
    victim.write_bytes(b"root:secret\n")
    victim.chmod(0o600)
    target = tmp_path / "kubelet.conf"
    planted = Path(tmp_path_of(target))
    if kind == "hard link":
        os.link(victim, planted)
    else:
        planted.symlink_to(victim)
    replace_atomically(str(target), lambda handle: handle.write(b"new"), 0o644, None, None)
    assert victim.read_bytes() == b"root:secret\n" and (victim.stat().st_mode & 0o777) == 0o600
    assert target.read_bytes() == b"new" and not os.path.lexists(planted)


def tmp_path_of(target: Path) -> str:
    """The fixed temporary name of a replaced file."""
    return tmp_path(str(target))


# --- one join or reset at a time; /etc/hosts edits serialised ------------------------------------------------------

def test_a_second_join_or_reset_is_refused_while_one_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "node"
    (root / "etc").mkdir(parents=True)
    (root / "etc/hosts").write_bytes(b"127.0.0.1 localhost\n")
    before = file_tree(root)
    with exclusive_lock(str(root), wait=False):
        assert main(["reset", "--root", str(root), "--force"]) == 3
        assert "another edgeadm join or reset is running on" in capsys.readouterr().err
        assert main([*JOIN, "--root", str(root)]) == 3
        assert "another edgeadm join or reset is running on" in capsys.readouterr().err
    assert file_tree(root) == before
    assert main(["reset", "--root", str(root), "--force"]) == 0  # free again
    assert "nothing to reset" in capsys.readouterr().err


def test_the_lock_is_the_nodes_var_lib_where_it_has_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nodes that share a root directory but not /var/lib (containers, simulated nodes) lock apart."""
    root = tmp_path / "node"
    (root / "var/lib").mkdir(parents=True)
    with exclusive_lock(str(root), wait=False):
        assert main(["reset", "--root", str(root), "--force"]) == 0, "the root directory itself is not the lock"
    with exclusive_lock(str(root / "var/lib"), wait=False):
        assert main(["reset", "--root", str(root), "--force"]) == 3
        assert "another edgeadm join or reset is running on" in capsys.readouterr().err


def test_hosts_edits_wait_for_the_lock(tmp_path: Path) -> None:
    root = tmp_path / "node"
    (root / "etc").mkdir(parents=True)
    hosts = root / "etc/hosts"
    hosts.write_bytes(b"127.0.0.1 localhost\n")
    changes = Changes(str(root), _quiet(), False, {"command": "join"})
    finished = threading.Event()

    def edit() -> None:
        changes.set_hosts_block("hosts", "/etc/hosts", ["198.18.0.1 kubernetes.default"])
        finished.set()

    with exclusive_lock(str(root / "etc"), wait=False):
        worker = threading.Thread(target=edit)
        worker.start()
        time.sleep(0.3)  # time for the edit to get to the lock; it must not get past it
        assert not finished.is_set()
        assert hosts.read_bytes() == b"127.0.0.1 localhost\n"
    worker.join(30)
    assert finished.is_set() and b"198.18.0.1 kubernetes.default" in hosts.read_bytes()


# --- reset keeps what changed after join --------------------------------------------------------------------------

def test_reset_keeps_files_changed_after_join_and_reports_them(tmp_path: Path) -> None:
    root = tmp_path / "node"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/kubelet").write_bytes(b"the node's own kubelet")
    changes = Changes(str(root), _quiet(), False, {"command": "join"})
    changes.write_file("package", "/usr/bin/kubelet", b"the package's kubelet", 0o755)
    changes.write_file("package", "/usr/bin/kubectl", b"the package's kubectl", 0o755)
    changes.write_file("package", "/usr/bin/conntrack", b"the package's conntrack", 0o755)
    changes.write_file("kubelet", "/etc/kubernetes/pki/ca.crt", b"ca", 0o644)
    (root / "usr/bin/kubelet").write_bytes(b"kubelet upgraded later")  # replaced one
    (root / "usr/bin/kubectl").write_bytes(b"kubectl from apt")  # created one
    (root / "usr/bin/conntrack").chmod(0o700)  # only its mode changed: still join's file
    errors = io.StringIO()
    run_reset(str(root), Output(0, io.StringIO(), errors))
    assert (root / "usr/bin/kubelet").read_bytes() == b"kubelet upgraded later"
    assert (root / "usr/bin/kubectl").read_bytes() == b"kubectl from apt"
    assert not (root / "usr/bin/conntrack").exists() and not (root / "etc/kubernetes").exists()
    report = errors.getvalue()
    for name in ("kubelet", "kubectl"):
        assert f"kept {root}/usr/bin/{name}: it changed after join" in report
    assert "is not what join wrote" in report
    assert "back to its state before join but for 2 file(s) that changed after join and were kept" in report
    assert "the node is back to its state before join;" not in report


# --- package members ----------------------------------------------------------------------------------------------

Member = Tuple[str, bytes, Optional[str], Dict[str, str]]  # name, data, symlink target, pax headers


def _package(tmp_path: Path, members: List[Member], manifest: bool = True) -> Path:
    raw = io.BytesIO()
    hashes = {name: hashlib.sha256(data).hexdigest() for name, data, link, _ in members if link is None}
    if manifest:
        members = [*members, (layout.MANIFEST, layout.Manifest("amd64", "v1.31.2", hashes).to_json().encode(),
                              None, {})]
    with tarfile.open(fileobj=raw, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for name, data, link, pax in members:
            info = tarfile.TarInfo(name)
            info.mode = 0o755
            if link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, link
                archive.addfile(info)
                continue
            info.size = len(data)
            info.pax_headers = pax
            archive.addfile(info, io.BytesIO(data))
    path = tmp_path / "kube-linux-amd64-v1.31.2.tar.gz"
    path.write_bytes(raw.getvalue())
    return path


def _cni(files: Dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            archive.addfile(info, io.BytesIO(data))
    return raw.getvalue()


KUBELET: Member = ("edge-install/bin/kubelet", ELF_AMD64 + b"kubelet", None, {})
CNI: Member = ("edge-install/cni/cni-plugins-linux-amd64-v1.5.1.tgz", _cni({"./bridge": b"bridge"}), None, {})


def _refused(path: Path) -> str:
    with pytest.raises(PackageError) as caught:
        inspect(str(path), "amd64", None, _quiet())
    return caught.value.message


def test_a_sparse_member_is_refused(tmp_path: Path) -> None:
    # 20 bytes of data whose sparse map says 200 MB: extracted, it would fill the disk with zeros.
    sparse = {"GNU.sparse.map": "0,10,209715190,10", "GNU.sparse.size": "209715200"}
    path = _package(tmp_path, [KUBELET, CNI, ("edge-install/bin/kubectl", b"x" * 20, None, sparse)], manifest=False)
    assert "the package member 'edge-install/bin/kubectl' is a sparse file" in _refused(path)


def test_a_sparse_member_inside_the_cni_tarball_is_refused(tmp_path: Path) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("./bridge")
        info.size = 20
        info.pax_headers = {"GNU.sparse.map": "0,10,209715190,10", "GNU.sparse.size": "209715200"}
        archive.addfile(info, io.BytesIO(b"x" * 20))
    cni: Member = ("edge-install/cni/cni-plugins-linux-amd64-v1.5.1.tgz", raw.getvalue(), None, {})
    assert "is a sparse file" in _refused(_package(tmp_path, [KUBELET, cni]))


@pytest.mark.parametrize("name", ["sh", "bash", "systemctl", "sudo", "ip"])
def test_a_binary_the_package_does_not_carry_is_refused(tmp_path: Path, name: str) -> None:
    path = _package(tmp_path, [KUBELET, CNI, (f"edge-install/bin/{name}", b"#!/bin/true\n", None, {})])
    message = _refused(path)
    assert f"would be installed as /usr/bin/{name}, which is not one of the package's binaries" in message
    assert "kubelet, kubectl, conntrack, lite-apiserver, crictl" in message


def test_a_kubelet_that_is_a_link_still_has_its_architecture_checked(tmp_path: Path) -> None:
    path = _package(tmp_path, [("edge-install/libexec/kubelet", ELF_ARM64 + b"kubelet", None, {}),
                               ("edge-install/bin/kubelet", b"", "../libexec/kubelet", {}), CNI], manifest=False)
    assert "wrong architecture: the install package is for arm64 (says its kubelet binary)" in _refused(path)


def test_the_cni_tarball_is_not_read_into_memory(tmp_path: Path) -> None:
    plugin = os.urandom(16 << 20)  # incompressible: the tarball is as large as its plugin
    path = _package(tmp_path, [KUBELET, ("edge-install/cni/cni-plugins-linux-amd64-v1.5.1.tgz",
                                         _cni({"./bridge": plugin}), None, {})])
    tracemalloc.start()
    try:
        package = inspect(str(path), "amd64", None, _quiet())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert any(item.target == "/opt/cni/bin/bridge" and item.sha256 == hashlib.sha256(plugin).hexdigest()
               for item in package.files)
    assert peak < 8 << 20, f"inspect held {peak} bytes at its peak"


# --- packages fetched by URL need an integrity anchor ----------------------------------------------------------------

@pytest.mark.parametrize("url", ["http://198.18.0.5/kube-linux-amd64-v1.31.2.tar.gz",
                                 "ftp://198.18.0.5/kube-linux-amd64-v1.31.2.tar.gz",
                                 "HTTP://198.18.0.5/kube-linux-amd64-v1.31.2.tar.gz"])
def test_a_package_url_without_tls_needs_a_sha256(tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]
                                                  ) -> None:
    root = tmp_path / "node"
    root.mkdir()
    assert main([*JOIN, "--root", str(root), "--install-pkg-path", url]) == 2
    errors = capsys.readouterr().err
    assert "which nothing protects: anyone on the way could swap the package" in errors
    assert "pass --install-pkg-sha256" in errors
    assert file_tree(root) == {}
