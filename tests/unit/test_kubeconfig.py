"""kubectl's kubeconfig rules: file choice, first-wins merge, relative paths, context overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kubectl_edge.cluster.kubeconfig import ConnectionOverrides, kubeconfig_paths, load
from kubectl_edge.errors import ConfigError


def _write(path: Path, server: str, context: str, current: str | None, ca: str | None = None) -> Path:
    cluster: dict[str, str] = {"server": server}
    if ca:
        cluster["certificate-authority"] = ca
    document = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": {"token": f"token-{context}"}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context, "namespace": f"ns-{context}"}}],
    }
    if current:
        document["current-context"] = current
    path.write_text(yaml.safe_dump(document))
    return path


def test_first_file_current_context_wins(tmp_path: Path) -> None:
    first = _write(tmp_path / "a", "https://a.example:6443", "a", "a")
    second = _write(tmp_path / "b", "https://b.example:6443", "b", "b")
    resolved = load(ConnectionOverrides(), {"KUBECONFIG": f"{first}:{second}"})
    assert resolved.server == "https://a.example:6443"
    assert resolved.namespace == "ns-a"
    reversed_order = load(ConnectionOverrides(), {"KUBECONFIG": f"{second}:{first}"})
    assert reversed_order.server == "https://b.example:6443"


def test_later_file_supplies_current_context_when_first_has_none(tmp_path: Path) -> None:
    first = _write(tmp_path / "a", "https://a.example:6443", "a", None)
    second = _write(tmp_path / "b", "https://b.example:6443", "b", "a")
    resolved = load(ConnectionOverrides(), {"KUBECONFIG": f"{first}:{second}"})
    assert resolved.server == "https://a.example:6443"


def test_duplicate_names_first_definition_wins(tmp_path: Path) -> None:
    first = _write(tmp_path / "a", "https://first.example", "same", "same")
    second = _write(tmp_path / "b", "https://second.example", "same", "same")
    assert load(ConnectionOverrides(), {"KUBECONFIG": f"{first}:{second}"}).server == "https://first.example"


def test_context_flag_and_namespace_override(tmp_path: Path) -> None:
    first = _write(tmp_path / "a", "https://a.example", "a", "a")
    second = _write(tmp_path / "b", "https://b.example", "b", "b")
    resolved = load(ConnectionOverrides(context="b", namespace="other"), {"KUBECONFIG": f"{first}:{second}"})
    assert (resolved.server, resolved.namespace) == ("https://b.example", "other")


def test_kubeconfig_flag_reads_only_that_file(tmp_path: Path) -> None:
    first = _write(tmp_path / "a", "https://a.example", "a", "a")
    second = _write(tmp_path / "b", "https://b.example", "b", "b")
    resolved = load(ConnectionOverrides(kubeconfig=str(second)), {"KUBECONFIG": str(first)})
    assert resolved.server == "https://b.example"
    with pytest.raises(ConfigError, match="does not exist"):
        load(ConnectionOverrides(kubeconfig=str(second), context="a"), {})


def test_relative_paths_resolve_against_the_defining_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = _write(tmp_path / "sub" / "config", "https://a.example", "a", "a", ca="certs/ca.crt")
    resolved = load(ConnectionOverrides(), {"KUBECONFIG": str(path)})
    ca = resolved.config["clusters"][0]["cluster"]["certificate-authority"]
    assert ca == str(tmp_path / "sub" / "certs" / "ca.crt")


def test_missing_files_are_skipped_and_all_missing_is_an_error(tmp_path: Path) -> None:
    present = _write(tmp_path / "a", "https://a.example", "a", "a")
    assert kubeconfig_paths(None, {"KUBECONFIG": f"{tmp_path / 'nope'}:{present}"}) == [present]
    with pytest.raises(ConfigError, match="none of the files"):
        kubeconfig_paths(None, {"KUBECONFIG": str(tmp_path / "nope")})
    with pytest.raises(ConfigError, match="no kubeconfig"):
        kubeconfig_paths(None, {"HOME": str(tmp_path)})


def test_unknown_context_and_no_current_context_are_errors(tmp_path: Path) -> None:
    path = _write(tmp_path / "a", "https://a.example", "a", None)
    with pytest.raises(ConfigError, match="no current context"):
        load(ConnectionOverrides(), {"KUBECONFIG": str(path)})
    with pytest.raises(ConfigError, match='context "zzz" does not exist'):
        load(ConnectionOverrides(context="zzz"), {"KUBECONFIG": str(path)})


def test_cluster_and_user_overrides(tmp_path: Path) -> None:
    first = _write(tmp_path / "a", "https://a.example", "a", "a")
    second = _write(tmp_path / "b", "https://b.example", "b", None)
    resolved = load(ConnectionOverrides(cluster="b"), {"KUBECONFIG": f"{first}:{second}"})
    assert resolved.server == "https://b.example"
    assert resolved.config["users"][0]["user"] == {"token": "token-a"}
    with pytest.raises(ConfigError, match='user "nobody"'):
        load(ConnectionOverrides(user="nobody"), {"KUBECONFIG": str(first)})


def test_not_a_mapping_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="not a YAML mapping"):
        load(ConnectionOverrides(kubeconfig=str(path)), {})
