"""The join command line."""

from __future__ import annotations

import shlex

import pytest

from edge_protocol import joincommand as jc
from edge_protocol.errors import EndpointError, JoinCommandError, PinError, TokenError
from edge_protocol.token import parse_token

TOKEN = "abcdef.0123456789abcdef"
PIN_A = "sha256:" + "a" * 64
PIN_B = "sha256:" + "0123456789" * 6 + "beef"


def test_join_line_golden() -> None:
    line = jc.build_join_command("203.0.113.10", TOKEN, [PIN_A])
    assert line == f"./edgeadm join 203.0.113.10:6443 --token {TOKEN} --discovery-token-ca-cert-hash {PIN_A}"


def test_join_line_with_several_pins_and_a_package() -> None:
    pins = [PIN_A, PIN_B.upper().replace("SHA256", "sha256"), PIN_A]
    package = "/opt/kube-linux-amd64-v1.31.0.tar.gz"
    line = jc.build_join_command("api.example.com:443", TOKEN, pins, install_pkg_path=package)
    assert line == (f"./edgeadm join api.example.com:443 --token {TOKEN} --discovery-token-ca-cert-hash {PIN_A} "
                    f"--discovery-token-ca-cert-hash {PIN_B} --install-pkg-path {package}")


def test_join_line_is_shell_safe() -> None:
    path = "/tmp/my packages/$HOME's kube.tgz"
    line = jc.build_join_command("[2001:db8::1]:6443", parse_token(TOKEN), [PIN_A], path, program="sudo-less/edgeadm")
    assert "'[2001:db8::1]:6443'" in line
    assert shlex.split(line) == ["sudo-less/edgeadm", "join", "[2001:db8::1]:6443", "--token", TOKEN,
                                 "--discovery-token-ca-cert-hash", PIN_A, "--install-pkg-path", path]


def test_join_line_url_package_and_normalised_endpoint() -> None:
    line = jc.build_join_command("https://API.example.com", TOKEN, [PIN_A], "https://dl.example.com/p.tgz?x=1&y=2")
    words = shlex.split(line)
    assert words[2] == "api.example.com:6443"
    assert words[-1] == "https://dl.example.com/p.tgz?x=1&y=2"


def test_build_refuses_bad_parts() -> None:
    with pytest.raises(JoinCommandError, match="at least one CA pin"):
        jc.build_join_command("1.2.3.4", TOKEN, [])
    with pytest.raises(TokenError):
        jc.build_join_command("1.2.3.4", "abcdef", [PIN_A])
    with pytest.raises(PinError):
        jc.build_join_command("1.2.3.4", TOKEN, ["a" * 64])
    with pytest.raises(EndpointError):
        jc.build_join_command("2001:db8::1", TOKEN, [PIN_A])
    with pytest.raises(JoinCommandError, match="empty"):
        jc.build_join_command("1.2.3.4", TOKEN, [PIN_A], install_pkg_path="")


def test_parse_round_trip() -> None:
    path = "/tmp/a b.tgz"
    line = jc.build_join_command("[fd00::1]:7443", TOKEN, [PIN_A, PIN_B], path)
    parsed = jc.parse_join_command(line)
    assert (parsed.host, parsed.port, parsed.endpoint) == ("fd00::1", 7443, "[fd00::1]:7443")
    assert parsed.token.value == TOKEN
    assert parsed.ca_pins == [PIN_A, PIN_B]
    assert parsed.install_pkg_path == path
    assert parsed.program == "./edgeadm"
    assert parsed.to_line() == line
    assert "0123456789abcdef" not in repr(parsed)


def test_parse_accepts_equals_form_and_any_flag_order() -> None:
    parsed = jc.parse_join_command(
        f"/usr/local/bin/edgeadm join --discovery-token-ca-cert-hash={PIN_A.upper()} --token={TOKEN} 10.0.0.1")
    assert (parsed.host, parsed.port, parsed.ca_pins, parsed.install_pkg_path) == ("10.0.0.1", 6443, [PIN_A], None)
    assert parsed.program == "/usr/local/bin/edgeadm"


@pytest.mark.parametrize(
    ("line", "error", "problem"),
    [
        ("", JoinCommandError, "starts with the installer and 'join'"),
        (f"./edgeadm reset 1.2.3.4 --token {TOKEN}", JoinCommandError, "starts with the installer and 'join'"),
        (f"./edgeadm join 1.2.3.4 --token {TOKEN} --discovery-token-ca-cert-hash {PIN_A} --force", JoinCommandError,
         "unknown flag '--force'"),
        (f"./edgeadm join 1.2.3.4 --discovery-token-ca-cert-hash {PIN_A} --token", JoinCommandError,
         "--token has no value"),
        (f"./edgeadm join 1.2.3.4 5.6.7.8 --token {TOKEN} --discovery-token-ca-cert-hash {PIN_A}", JoinCommandError,
         "found 2"),
        (f"./edgeadm join --token {TOKEN} --discovery-token-ca-cert-hash {PIN_A}", JoinCommandError, "found 0"),
        (f"./edgeadm join 1.2.3.4 --discovery-token-ca-cert-hash {PIN_A}", JoinCommandError, "no --token"),
        (f"./edgeadm join 1.2.3.4 --token {TOKEN}", JoinCommandError, "no --discovery-token-ca-cert-hash"),
        (f"./edgeadm join 1.2.3.4 --token {TOKEN} --token {TOKEN} --discovery-token-ca-cert-hash {PIN_A}",
         JoinCommandError, "--token is given 2 times"),
        (f"./edgeadm join 1.2.3.4 --token {TOKEN} --discovery-token-ca-cert-hash {PIN_A} --install-pkg-path 'a",
         JoinCommandError, "cannot split"),
        (f"./edgeadm join 1.2.3.4 --token abcdef --discovery-token-ca-cert-hash {PIN_A}", TokenError, "no '.'"),
        (f"./edgeadm join 1.2.3.4 --token {TOKEN} --discovery-token-ca-cert-hash sha256:abc", PinError, "this has 3"),
        (f"./edgeadm join 1.2.3.4:0 --token {TOKEN} --discovery-token-ca-cert-hash {PIN_A}", EndpointError, "65535"),
    ],
)
def test_parse_refuses(line: str, error: type[Exception], problem: str) -> None:
    with pytest.raises(error) as info:
        jc.parse_join_command(line)
    assert problem in str(info.value)
