"""Property-based tests (hypothesis) of the node's parsers of untrusted bytes: the hosts file edit and its
undo (byte-exact for any file), cluster-info's kubeconfig, the checks of values read from the cluster, and
whole packages of arbitrary members.

Example counts are small so the suite stays quick.
"""

from __future__ import annotations

import io
import ipaddress
import posixpath
import re
import tarfile
from typing import List, Tuple

from edge_installer import clusterdata
from edge_installer.errors import InstallerError, PackageError
from edge_installer.hostsfile import (
    BEGIN_MARKER,
    END_MARKER,
    SUPEREDGE_BEGIN,
    SUPEREDGE_END,
    conflicts,
    insert_block,
    mapping_lines,
    remove_block,
    render_block,
    split_lines,
)
from edge_installer.kubeconfig import parse_cluster_info
from edge_installer.output import Output
from edge_installer.package import inspect
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])
# Any byte, as latin-1 characters, with the ones that matter more often: line ends, splitlines' extra breaks.
HOSTS_CHARS = st.one_of(st.characters(min_codepoint=0, max_codepoint=255),
                        st.sampled_from(["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "#",
                                         " ", "\t", "kubernetes.default", "127.0.0.1", f"{BEGIN_MARKER}\n",
                                         f"{END_MARKER}\n", f"{SUPEREDGE_BEGIN}\n", f"{SUPEREDGE_END}\n"]))
HOSTS_TEXT = st.lists(HOSTS_CHARS, max_size=40).map("".join)
NAME = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?){0,3}", fullmatch=True)
IPV4 = st.ip_addresses(v=4).map(str)


# --- /etc/hosts -------------------------------------------------------------------------------------------------

@FAST
@given(HOSTS_TEXT, st.lists(NAME, min_size=1, max_size=3), IPV4)
def test_insert_then_remove_restores_any_hosts_file_byte_for_byte(text: str, names: List[str], address: str) -> None:
    block = render_block(mapping_lines(address, names))
    insertion = insert_block(text, block)
    assert block in insertion.text
    restored, found = remove_block(insertion.text, insertion.inserted, insertion.replaced)
    assert found and restored == text
    # A second join over the result is undone just as exactly.
    again = insert_block(insertion.text, render_block(mapping_lines("203.0.113.7", names)))
    assert remove_block(again.text, again.inserted, again.replaced) == (insertion.text, True)


@FAST
@given(HOSTS_TEXT)
def test_lines_split_on_newline_only(text: str) -> None:
    pieces = split_lines(text)
    assert "".join(pieces) == text
    assert all(piece.count("\n") <= 1 and ("\n" not in piece or piece.endswith("\n")) for piece in pieces)


@FAST
@given(HOSTS_TEXT, st.lists(NAME, min_size=1, max_size=3), IPV4)
def test_a_conflict_is_a_line_mapping_a_name_to_another_address(text: str, names: List[str], address: str) -> None:
    lines = mapping_lines(address, names)
    for conflict in conflicts(text, lines):
        assert conflict.name.lower() in {name.lower() for name in names}
        assert conflict.address != address
    # Whatever the file held, after adding a line that maps the first name elsewhere there is a conflict.
    other = "203.0.113.250" if address != "203.0.113.250" else "203.0.113.251"
    assert any(item.address == other for item in conflicts(f"{other} {names[0]}\n" + text, lines))


# --- cluster-info's kubeconfig --------------------------------------------------------------------------------

KUBECONFIG_PIECES = st.sampled_from(["server: https://198.18.0.1:6443\n", "certificate-authority-data: ",
                                     "TUlJ\n", "Zm9v\n", "clusters:\n", "- cluster:\n", "  ", "'", '"', "{", "}",
                                     '"clusters": [', '{"cluster": {"server": "x"}}', "]", "\n", "#", ":",
                                     "certificate-authority: /etc/ca\n"])


@FAST
@given(st.one_of(st.text(max_size=100), st.lists(KUBECONFIG_PIECES, max_size=15).map("".join)))
def test_any_kubeconfig_text_parses_or_raises_an_installer_error(text: str) -> None:
    try:
        entry = parse_cluster_info(text)
    except InstallerError:
        return
    assert isinstance(entry.server, str) and isinstance(entry.ca_pem, str)


# --- values read from the cluster -------------------------------------------------------------------------------

@FAST
@given(st.lists(st.one_of(HOSTS_CHARS, NAME, IPV4), max_size=20).map("".join))
def test_host_config_is_clean_lines_or_refused(text: str) -> None:
    try:
        lines = clusterdata.host_lines(text, "edge-info key host-config")
    except InstallerError as exc:
        assert "cannot be used" in exc.message
        return
    for line in lines:
        words = line.split(" ")
        ipaddress.ip_address(words[0])
        assert len(words) >= 2 and all(clusterdata.is_dns_name(word) for word in words[1:])
        assert re.fullmatch(r"[0-9A-Za-z.:\- ]+", line)


@FAST
@given(st.text(max_size=60))
def test_an_address_is_canonical_or_refused(text: str) -> None:
    try:
        address = clusterdata.ip_address(text, "edge-info key edge-virtual-addr")
    except InstallerError:
        return
    assert str(ipaddress.ip_address(address)) == address and re.fullmatch(r"[0-9a-f.:]+", address)


@FAST
@given(st.text(max_size=120))
def test_tls_json_is_re_encoded_plain_paths_or_refused(text: str) -> None:
    for candidate in (text, '[{"key":"' + text + '","cert":"/a/b"}]'):
        try:
            result = clusterdata.tls_json(candidate, "edge-info key tls.json")
        except InstallerError:
            continue
        assert re.fullmatch(r'\[(\{"key":"[/A-Za-z0-9._-]+","cert":"[/A-Za-z0-9._-]+"\},?)+\]\n', result)


@FAST
@given(st.lists(st.sampled_from(["-----BEGIN PRIVATE KEY-----\n", "-----END PRIVATE KEY-----\n", "MAMCAQE=\n",
                                 "-----BEGIN RSA PRIVATE KEY-----\n", "-----END EC PRIVATE KEY-----\n", "!", "\n",
                                 "MIIB", "AAAA", "-----BEGIN CERTIFICATE-----\n"]), max_size=8).map("".join))
def test_a_private_key_is_one_re_encoded_block_or_refused(text: str) -> None:
    try:
        key = clusterdata.private_key(text, "edge-info lite-apiserver.key")
    except InstallerError:
        return
    assert key.count("-----BEGIN ") == 1 and key.endswith("-----\n")
    assert clusterdata.private_key(key, "again") == key


@FAST
@given(st.text(max_size=80))
def test_a_server_url_is_plain_https_or_refused(text: str) -> None:
    for candidate in (text, "https://" + text):
        try:
            url = clusterdata.server_url(candidate, "cluster-info server")
        except InstallerError:
            continue
        assert url.startswith("https://") and not any(ch.isspace() for ch in url)


# --- whole packages of arbitrary members ------------------------------------------------------------------------

MEMBER_NAME = st.lists(st.sampled_from(["edge-install", "bin", "cni", "kubelet", "kubectl", "sh", "..", ".", "",
                                        "/", "etc"]), min_size=1, max_size=5).map("/".join)
MEMBER = st.tuples(MEMBER_NAME, st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE,
                                                 tarfile.CHRTYPE, tarfile.FIFOTYPE]), MEMBER_NAME)


def _archive(members: List[Tuple[str, bytes, str]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as archive:
        for name, kind, link in [("edge-install/bin/kubelet", tarfile.REGTYPE, ""), *members]:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = link
            data = b"x" if kind == tarfile.REGTYPE else b""
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data else None)
    return raw.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(MEMBER, max_size=6))
def test_any_package_is_checked_or_refused_and_installs_only_inside_its_directories(
        members: List[Tuple[str, bytes, str]]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        path = posixpath.join(directory, "kube-linux-amd64-v1.31.2.tar.gz")
        with open(path, "wb") as handle:
            handle.write(_archive(members))
        try:
            package = inspect(path, "amd64", None, Output(0, io.StringIO(), io.StringIO()))
        except PackageError:
            return
    for item in package.files:
        assert item.target.startswith(("/usr/bin/", "/opt/cni/bin/"))
        assert ".." not in item.target.split("/")
        if item.target.startswith("/usr/bin/"):
            assert posixpath.basename(item.target) in ("kubelet", "kubectl", "conntrack", "lite-apiserver", "crictl")
