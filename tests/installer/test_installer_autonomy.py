"""Edge autonomy on the node side: the kubelet's feature gates by version, lite-apiserver's unit, the honest
wait for kubelet's client certificate, and what reset says when crictl is missing."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from edge_installer import system
from edge_installer.errors import InstallerError
from edge_installer.kubeletcompat import NEWEST_CHECKED_MINOR, fit_for_lite_apiserver
from edge_installer.output import Output
from edge_installer.phases.liteapiserver import unit
from edge_installer.phases.start import client_certificate, remove_pods_argv
from edge_installer.reset import _say_what_crictl_leaves


@pytest.mark.parametrize("version", ["v1.22.6", "v1.29.15", "1.29"])
def test_a_kubelet_that_does_not_know_the_gate_gets_none(version: str) -> None:
    fit = fit_for_lite_apiserver(version)
    assert fit.gates == {}
    assert fit.flag() is None
    assert fit.warnings == []


@pytest.mark.parametrize(("version", "default"), [("v1.30.14", "off by default"), ("v1.34.1", "off by default"),
                                                  ("v1.35.0", "on by default"), ("v1.37.2", "on by default")])
def test_a_kubelet_that_knows_the_gate_gets_it_off_with_the_reason(version: str, default: str) -> None:
    fit = fit_for_lite_apiserver(version)
    assert fit.flag() == "WatchListClient=false"
    assert len(fit.reasons) == 1
    assert version in fit.reasons[0] and default in fit.reasons[0] and "lite-apiserver" in fit.reasons[0]
    assert fit.warnings == []


def test_a_kubelet_newer_than_any_checked_gets_the_gate_and_a_warning() -> None:
    fit = fit_for_lite_apiserver(f"v1.{NEWEST_CHECKED_MINOR + 1}.0")
    assert fit.flag() == "WatchListClient=false"
    assert fit.warnings and "newer" in fit.warnings[0]


@pytest.mark.parametrize("version", [None, "", "unknown"])
def test_an_unknown_kubelet_version_sets_nothing_and_says_what_to_do(version: str | None) -> None:
    fit = fit_for_lite_apiserver(version)
    assert fit.gates == {}
    assert fit.warnings and "--feature-gates=WatchListClient=false" in fit.warnings[0]


def test_the_unit_puts_the_address_on_the_interface_without_a_shell() -> None:
    text = unit("169.254.20.11", "kubernetes.default", 6443, "/usr/sbin/ip")
    pre = [line for line in text.splitlines() if line.startswith("ExecStartPre=")]
    assert pre == ["ExecStartPre=-/usr/sbin/ip link add tkeedgedns type dummy",
                   "ExecStartPre=-/usr/sbin/ip addr add 169.254.20.11/32 dev tkeedgedns",
                   "ExecStartPre=/usr/sbin/ip link set tkeedgedns up"]
    assert "/bin/sh" not in text and "bash" not in text
    start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert "--address=169.254.20.11" in start.split() and "--kube-apiserver-url=kubernetes.default" in start.split()
    assert "--kube-apiserver-port=6443" in start.split()


@pytest.mark.parametrize(("address", "host", "ip"), [
    ("169.254.20.11; touch /tmp/x #", "kubernetes.default", "/usr/sbin/ip"),
    ("169.254.20.11", "kubernetes.default --insecure", "/usr/sbin/ip"),
    ("169.254.20.11", "api.example.org%n", "/usr/sbin/ip"),
    ("169.254.20.11", "kubernetes.default", "/usr/sbin/ip $HOME"),
])
def test_the_unit_refuses_anything_that_is_not_a_plain_value(address: str, host: str, ip: str) -> None:
    with pytest.raises(InstallerError) as raised:
        unit(address, host, 6443, ip)
    assert "refusing" in raised.value.message or "address" in raised.value.message


def test_kubelet_has_its_client_certificate_only_once_the_file_kubelet_conf_names_exists(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubelet.conf"
    certificate = tmp_path / "kubelet-client-current.pem"

    def host(path: str) -> str:
        return path

    assert client_certificate(host, str(kubeconfig)) is None
    kubeconfig.write_text("apiVersion: v1\nusers:\n- name: default-auth\n  user:\n"
                          f"    client-certificate: {certificate}\n    client-key: {certificate}\n")
    assert client_certificate(host, str(kubeconfig)) is None, "kubelet.conf alone is no client certificate"
    certificate.write_text("")
    assert client_certificate(host, str(kubeconfig)) is None, "an empty file is being written"
    certificate.write_text("-----BEGIN CERTIFICATE-----\n")
    assert client_certificate(host, str(kubeconfig)) == str(certificate)


def test_reset_removes_the_pods_through_the_runtime_named_at_join() -> None:
    assert remove_pods_argv("/run/containerd/containerd.sock") == [
        "crictl", "--runtime-endpoint", "unix:///run/containerd/containerd.sock", "rmp", "--all", "--force"]


def test_reset_says_what_is_left_when_crictl_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system, "find_program", lambda name: None)
    err = io.StringIO()
    _say_what_crictl_leaves([{"kind": "command", "argv": ["systemctl", "restart", "kubelet"],
                              "undo": [["systemctl", "stop", "kubelet"], remove_pods_argv("unix:///x.sock")]}],
                            Output(out=io.StringIO(), err=err))
    assert "crictl is not installed" in err.getvalue() and "k8s.io" in err.getvalue()
    quiet = io.StringIO()
    _say_what_crictl_leaves([{"kind": "command", "argv": ["x"], "undo": [["systemctl", "stop", "kubelet"]]}],
                            Output(out=io.StringIO(), err=quiet))
    assert quiet.getvalue() == ""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make network namespaces")
def test_the_dummy_probe_answers_for_this_kernel_and_leaves_no_interface() -> None:
    import subprocess
    import sys

    probe = ("import sys; sys.path.insert(0, 'installer'); from edge_installer import system; "
             "print(system.can_make_dummy_interface())")
    # In a network namespace of its own, so the probe never touches this machine's interfaces.
    result = subprocess.run(["unshare", "--net", "sh", "-c", f"{sys.executable} -c \"{probe}\"; ip -o link show"],
                            capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2], check=True)
    first, *links = result.stdout.splitlines()
    kernel = subprocess.run(["unshare", "--net", "ip", "link", "add", "d0", "type", "dummy"], capture_output=True)
    assert (first == "None") == (kernel.returncode == 0)
    assert [line for line in links if "edgeadm" in line] == []
