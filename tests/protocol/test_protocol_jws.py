"""Detached JWS of cluster-info: byte-exact with k8s.io/cluster-bootstrap, verified in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from edge_protocol import jws
from edge_protocol.errors import TokenError

KUBECONFIG = (
    "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: LS0t\n"
    "    server: https://203.0.113.10:6443\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\n"
    "kind: Config\npreferences: {}\nusers: null\n"
)
# Printed by k8s.io/cluster-bootstrap v0.37.2 token/jws.ComputeDetachedSignature (go-jose v2.6.3) for these inputs.
GO_VECTORS = [
    (KUBECONFIG, "abcdef", "0123456789abcdef",
     "eyJhbGciOiJIUzI1NiIsImtpZCI6ImFiY2RlZiJ9..ECK8BvdQBb2b1emQlsE-AI85QZFOZcjDUc4E3AZqRs0"),
    ("\u00e9 \u2713", "07401b", "f395accd246ae52d",
     "eyJhbGciOiJIUzI1NiIsImtpZCI6IjA3NDAxYiJ9..FQgy9P-1oi2Ety-J9SG_n5w9sYbaaJVAPkep8-enbiI"),
]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _by_hand(content: str, token_id: str, secret: str) -> str:
    header = _b64url(b'{"alg":"HS256","kid":"' + token_id.encode() + b'"}')
    signing_input = (header + "." + _b64url(content.encode("utf-8"))).encode()
    return header + ".." + _b64url(hmac.new(secret.encode(), signing_input, hashlib.sha256).digest())


@pytest.mark.parametrize(("content", "token_id", "secret", "expected"), GO_VECTORS)
def test_signature_matches_cluster_bootstrap(content: str, token_id: str, secret: str, expected: str) -> None:
    assert jws.sign_detached(content, token_id, secret) == expected
    assert jws.verify_detached(content, expected, token_id, secret)


@pytest.mark.parametrize(
    ("content", "token_id", "secret"),
    [("", "abcdef", "0123456789abcdef"), (KUBECONFIG * 7, "zz9zz9", "qwertyuiop123456"), ("a", "000000", "x" * 16)],
)
def test_signature_matches_an_independent_computation(content: str, token_id: str, secret: str) -> None:
    assert jws.sign_detached(content, token_id, secret) == _by_hand(content, token_id, secret)


def test_header_is_exactly_alg_then_kid_without_spaces() -> None:
    signature = jws.sign_detached(KUBECONFIG, "abcdef", "0123456789abcdef")
    header, payload, mac = signature.split(".")
    assert payload == ""
    decoded = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
    assert decoded == b'{"alg":"HS256","kid":"abcdef"}'
    assert json.loads(decoded) == {"alg": "HS256", "kid": "abcdef"}
    assert "=" not in signature and "+" not in signature and "/" not in signature
    assert len(base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))) == 32


def _flip(text: str, index: int) -> str:
    replacement = "b" if text[index] != "b" else "c"
    return text[:index] + replacement + text[index + 1:]


def test_any_one_character_change_fails_verification() -> None:
    content, token_id, secret, good = GO_VECTORS[0]
    assert jws.verify_detached(content, good, token_id, secret)
    for index in range(len(content)):
        assert not jws.verify_detached(_flip(content, index), good, token_id, secret)
    for index in range(len(secret)):
        assert not jws.verify_detached(content, good, token_id, _flip(secret, index))
    for index in range(len(good)):
        if good[index] != ".":
            assert not jws.verify_detached(content, _flip(good, index), token_id, secret)
    assert not jws.verify_detached(content, good, "abcdeg", secret)
    assert not jws.verify_detached(content + "\n", good, token_id, secret)


def test_other_serialisations_do_not_verify() -> None:
    content, token_id, secret, good = GO_VECTORS[0]
    header, _, mac = good.partition("..")
    attached = f"{header}.{_b64url(content.encode())}.{mac}"
    padded = good + "=" * (-len(mac) % 4)
    spaced_header = _b64url(b'{"alg": "HS256", "kid": "abcdef"}')
    for candidate in (attached, padded, good + " ", "", "..", f"{spaced_header}..{mac}", "\u00e9"):
        assert not jws.verify_detached(content, candidate, token_id, secret)


def test_verification_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(left: bytes, right: bytes) -> bool:
        calls.append((left, right))
        return real(left, right)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    content, token_id, secret, good = GO_VECTORS[0]
    assert jws.verify_detached(content, good, token_id, secret)
    assert calls == [(good.encode(), good.encode())]


def test_malformed_token_ids_are_refused() -> None:
    for bad in ("ABCDEF", "abc", 'ab"}cd', ""):
        with pytest.raises(TokenError):
            jws.sign_detached("x", bad, "0123456789abcdef")
        with pytest.raises(TokenError):
            jws.verify_detached("x", "a..b", bad, "0123456789abcdef")
        with pytest.raises(TokenError):
            jws.signature_key(bad)


def test_cluster_info_names() -> None:
    assert jws.signature_key("abcdef") == "jws-kubeconfig-abcdef"
    assert (jws.CLUSTER_INFO_NAMESPACE, jws.CLUSTER_INFO_NAME, jws.KUBECONFIG_KEY) == (
        "kube-public", "cluster-info", "kubeconfig")
    data = {"kubeconfig": "x", "jws-kubeconfig-zzzzzz": "s", "jws-kubeconfig-abcdef": "s",
            "jws-kubeconfig-ABCDEF": "s", "jws-kubeconfig-abc": "s", "other": "s"}
    assert jws.signed_token_ids(data) == ["abcdef", "zzzzzz"]
