"""Which Authorization header a kubeconfig user entry gives, and when the generated client must be used."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from kubectl_edge.cluster.credentials import authorization, needs_generated_client


def test_token_then_token_file_then_basic(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    assert authorization({"token": "inline", "tokenFile": str(token_file)}) == "Bearer inline"
    assert authorization({"tokenFile": str(token_file)}) == "Bearer from-file"
    basic = authorization({"username": "ada", "password": "s3:cret"})
    assert basic == "Basic " + base64.b64encode(b"ada:s3:cret").decode()
    assert authorization({}) is None
    assert authorization({"username": "ada"}) is None


@pytest.mark.parametrize(("user", "cluster", "environment", "expected"), [
    ({"token": "t"}, {}, {}, False),
    ({"exec": {"command": "x"}}, {}, {}, True),
    ({"auth-provider": {"name": "oidc"}}, {}, {}, True),
    ({}, {"proxy-url": "http://127.0.0.1:3128"}, {}, True),
    ({}, {}, {"HTTPS_PROXY": "http://127.0.0.1:3128"}, True),
    ({}, {}, {"all_proxy": "http://127.0.0.1:3128"}, True),
    ({}, {}, {"http_proxy": "http://127.0.0.1:3128"}, False),  # an https server ignores it
])
def test_what_needs_the_generated_client(monkeypatch: pytest.MonkeyPatch, user: dict[str, object],
                                         cluster: dict[str, object], environment: dict[str, str],
                                         expected: bool) -> None:
    for name in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert needs_generated_client(cluster, user, "https") is expected
