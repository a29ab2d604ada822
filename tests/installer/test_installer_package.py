"""The install package on the node: every member path, link, hash and the architecture are checked first.

Packages are made here with tarfile, independently of ``kubectl edge package build``, so that malformed
and malicious ones can be made too.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Optional, Tuple

import pytest
from edge_installer.errors import PackageError
from edge_installer.output import Output
from edge_installer.package import Package, PackageReader, Workdir, fetch, inspect

from edge_protocol import package as layout

NODE = "amd64"
OTHER = "arm64"
# The first 20 bytes of an ELF executable for x86-64 and for aarch64.
ELF_AMD64 = b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00\x3e\x00"
ELF_ARM64 = b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00\xb7\x00"

Member = Tuple[str, Optional[bytes], str, str]  # name, data, type ("file", "dir", "sym", "lnk", "chr"), link


def _tgz(members: list[Member]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as archive:
        for name, data, kind, link in members:
            info = tarfile.TarInfo(name)
            info.mode = 0o755
            if kind == "file":
                info.size = len(data or b"")
                archive.addfile(info, io.BytesIO(data or b""))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "lnk": tarfile.LNKTYPE,
                         "chr": tarfile.CHRTYPE}[kind]
            info.linkname = link
            archive.addfile(info)
    return raw.getvalue()


def _file(name: str, data: bytes) -> Member:
    return (name, data, "file", "")


def _manifest(files: list[Member], arch: str = NODE, version: str = "v1.31.2") -> Member:
    hashes = {name: hashlib.sha256(data or b"").hexdigest() for name, data, kind, _ in files if kind == "file"}
    return _file(layout.MANIFEST, layout.Manifest(arch, version, hashes).to_json().encode())


CNI = _tgz([_file("./bridge", b"bridge plugin"), _file("./host-local", b"host-local plugin")])
GOOD = [_file("edge-install/bin/kubelet", ELF_AMD64 + b"kubelet"), _file("edge-install/bin/kubectl", b"kubectl"),
        _file("edge-install/cni/cni-plugins-linux-amd64-v1.5.1.tgz", CNI),
        _file("edge-install/container/containerd-1.7.tgz", b"runtime")]


def _write(tmp_path: Path, members: list[Member], name: str = "kube-linux-amd64-v1.31.2.tar.gz") -> Path:
    path = tmp_path / name
    path.write_bytes(_tgz(members))
    return path


def _inspect(path: Path, node: str = NODE, sha256: str | None = None) -> Package:
    return inspect(str(path), node, sha256, Output(0, io.StringIO(), io.StringIO()))


def _refused(path: Path, node: str = NODE, sha256: str | None = None) -> str:
    with pytest.raises(PackageError) as caught:
        _inspect(path, node, sha256)
    return caught.value.message


def test_a_good_package_lists_what_it_installs_with_verified_hashes(tmp_path: Path) -> None:
    path = _write(tmp_path, [*GOOD, _manifest(GOOD)])
    package = inspect(str(path), NODE, hashlib.sha256(path.read_bytes()).hexdigest(),
                      Output(0, io.StringIO(), io.StringIO()))
    assert package.has_manifest and package.architecture == NODE and package.kubernetes_version == "v1.31.2"
    targets = {item.target: item for item in package.files}
    assert sorted(targets) == ["/opt/cni/bin/bridge", "/opt/cni/bin/host-local", "/usr/bin/kubectl",
                               "/usr/bin/kubelet"]
    assert targets["/opt/cni/bin/bridge"].sha256 == hashlib.sha256(b"bridge plugin").hexdigest()
    assert any("container runtime is not installed" in note for note in package.notes)
    reader = PackageReader(package)
    try:
        for item in package.files:
            with reader.open(item) as stream:
                assert hashlib.sha256(stream.read()).hexdigest() == item.sha256
    finally:
        reader.close()


def test_superedges_own_layout_is_accepted_without_per_file_hashes(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD, "kube-linux-amd64-v1.22.6.tar.gz")
    package = _inspect(path)
    assert not package.has_manifest
    assert package.kubernetes_version == "v1.22.6"
    assert any("no edge-install/manifest.json" in note and "cannot be checked" in note
               for note in package.notes)


def test_a_symbolic_link_inside_the_package_installs_its_target(tmp_path: Path) -> None:
    members = [*GOOD, ("edge-install/bin/conntrack", None, "sym", "kubectl")]
    package = _inspect(_write(tmp_path, [*members, _manifest(members)]))
    alias = next(item for item in package.files if item.target == "/usr/bin/conntrack")
    assert alias.sha256 == hashlib.sha256(b"kubectl").hexdigest()


@pytest.mark.parametrize(("member", "message"), [
    (_file("edge-install/../../etc/cron.d/x", b"x"), "climbs out of the target directory with '..'"),
    (_file("/etc/cron.d/x", b"x"), "has an absolute path"),
    (("edge-install/bin/evil", None, "sym", "../../../etc/shadow"), "is a symbolic link to '../../../etc/shadow', "
                                                                     "outside the target directory"),
    (("edge-install/bin/evil", None, "sym", "/etc/shadow"), "is a symbolic link to '/etc/shadow', outside"),
    (("edge-install/bin/evil", None, "lnk", "../etc/shadow"), "is a hard link to '../etc/shadow', outside"),
    (("edge-install/bin/evil", None, "chr", ""), "device, FIFO or other special file"),
    (_file("elsewhere/file", b"x"), "is outside edge-install/"),
])
def test_unsafe_members_are_refused_with_their_own_message(tmp_path: Path, member: Member, message: str) -> None:
    members = [*GOOD, member]
    text = _refused(_write(tmp_path, [*members, _manifest([m for m in members if m is not member])]))
    assert "unsafe install package" in text and message in text


def test_an_unsafe_member_inside_the_cni_tarball_is_refused(tmp_path: Path) -> None:
    inner = _tgz([_file("bridge", b"b"), _file("../../usr/bin/sudo", b"x")])
    members = [GOOD[0], _file("edge-install/cni/cni-plugins-linux-amd64.tgz", inner)]
    text = _refused(_write(tmp_path, [*members, _manifest(members)]))
    assert "inside edge-install/cni/cni-plugins-linux-amd64.tgz" in text and "'..'" in text


def test_a_checksum_mismatch_names_the_file_and_both_hashes(tmp_path: Path) -> None:
    manifest = _manifest(GOOD)
    tampered = [_file("edge-install/bin/kubelet", ELF_AMD64 + b"tampered"), *GOOD[1:]]
    text = _refused(_write(tmp_path, [*tampered, manifest]))
    assert text.startswith("checksum mismatch: the install package's edge-install/bin/kubelet has sha256 "
                           + hashlib.sha256(ELF_AMD64 + b"tampered").hexdigest())
    assert hashlib.sha256(ELF_AMD64 + b"kubelet").hexdigest() in text


def test_a_file_the_manifest_does_not_list_is_refused(tmp_path: Path) -> None:
    members = [*GOOD, _file("edge-install/bin/conntrack", b"x")]
    assert "edge-install/bin/conntrack is not listed in its manifest" in _refused(
        _write(tmp_path, [*members, _manifest(GOOD)]))


def test_a_file_the_manifest_lists_but_the_package_lacks_is_refused(tmp_path: Path) -> None:
    assert "lacks edge-install/bin/kubectl" in _refused(_write(tmp_path, [GOOD[0], GOOD[2], _manifest(GOOD)]))


def test_the_wrong_architecture_in_the_manifest_is_refused(tmp_path: Path) -> None:
    text = _refused(_write(tmp_path, [*GOOD, _manifest(GOOD, arch=OTHER)]))
    assert text == f"wrong architecture: the install package is for {OTHER} (says its manifest), this node is {NODE}"


def test_the_wrong_architecture_of_the_kubelet_binary_is_refused(tmp_path: Path) -> None:
    members = [_file("edge-install/bin/kubelet", ELF_ARM64 + b"kubelet"), *GOOD[1:]]
    text = _refused(_write(tmp_path, [*members, _manifest(members)]))
    assert "is for arm64 (says its kubelet binary)" in text


def test_the_file_name_tells_the_architecture_of_a_superedge_package(tmp_path: Path) -> None:
    members = [_file("edge-install/bin/kubelet", b"#!/bin/sh\n"), *GOOD[1:]]
    text = _refused(_write(tmp_path, members, "kube-linux-arm64-v1.22.6.tar.gz"))
    assert "is for arm64 (says its file name)" in text


def test_the_whole_file_hash_is_checked_first(tmp_path: Path) -> None:
    path = _write(tmp_path, [*GOOD, _manifest(GOOD)])
    text = _refused(path, sha256="0" * 64)
    assert text == (f"the install package's sha256 is {hashlib.sha256(path.read_bytes()).hexdigest()}, but "
                    f"--install-pkg-sha256 says {'0' * 64}")


def test_garbage_and_a_package_without_kubelet_are_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not a tarball at all")
    assert "is not a readable tar.gz archive" in _refused(garbage)
    assert "has no edge-install/bin/kubelet" in _refused(_write(tmp_path, GOOD[1:]))


def test_a_broken_manifest_is_refused(tmp_path: Path) -> None:
    bad = _file(layout.MANIFEST, json.dumps({"format": 1, "architecture": NODE, "kubernetesVersion": "v1.31.2",
                                             "files": {"edge-install/bin/kubelet": "nothex"}}).encode())
    assert "has no valid sha256 for 'edge-install/bin/kubelet'" in _refused(_write(tmp_path, [*GOOD, bad]))


def test_manifest_round_trip_and_file_name() -> None:
    manifest = layout.Manifest("arm64", "v1.31.2", {"edge-install/bin/kubelet": "a" * 64})
    assert layout.Manifest.from_json(manifest.to_json()) == manifest
    assert layout.package_file_name("arm64", "1.31.2") == "kube-linux-arm64-v1.31.2.tar.gz"
    assert layout.parse_package_file_name("/x/kube-linux-arm64-v1.31.2.tar.gz") == ("arm64", "v1.31.2")
    assert layout.parse_package_file_name("edgeadm.tgz") is None


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """An HTTP server on loopback serving tmp_path."""
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_package_is_downloaded_from_a_url_with_progress(tmp_path: Path, served: str) -> None:
    path = _write(tmp_path, [*GOOD, _manifest(GOOD)])
    workdir = Workdir()
    errors = io.StringIO()
    try:
        local = fetch(f"{served}/{path.name}", workdir.path, Output(0, io.StringIO(), errors))
        assert Path(local).read_bytes() == path.read_bytes()
        assert not local.startswith(str(tmp_path))
        assert "downloaded 100%" in errors.getvalue()
    finally:
        workdir.remove()


def test_a_failed_download_and_a_missing_file_say_what_failed(tmp_path: Path, served: str) -> None:
    with pytest.raises(PackageError, match=r"cannot download the install package from .*/missing\.tar\.gz"):
        fetch(f"{served}/missing.tar.gz", str(tmp_path), Output(0, io.StringIO(), io.StringIO()))
    with pytest.raises(PackageError, match="does not exist or is not a file"):
        fetch(str(tmp_path / "nope.tar.gz"), str(tmp_path), Output(0, io.StringIO(), io.StringIO()))
