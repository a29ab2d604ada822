"""What SuperEdge's binaries read from the rendered chart: tunnel-cloud's TOML configuration, the CRD files
application-grid-controller applies, and the kube version check (real helm 3 and 4, no cluster)."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest
import yaml
from chartkit import REPO, ca_pair, computed, facts
from test_chart_render import helm_bin, render, write_values  # noqa: F401  (the fixture)

from kubectl_edge.addon.helm import HelmFailed

#: The TLS 1.2 suite names SuperEdge's tunnel accepts (pkg/util's cipher-suite table) that are not insecure.
GO_SUITES = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_256_CBC_SHA"}
#: The keys of each table of tunnel-cloud's configuration (the toml tags of pkg/tunnel/conf's structs).
CLOUD_KEYS = {
    "tls": {"tls_cipher_suites", "tls_min_version"},
    "stream": {"server", "register"},
    "egress": {"port"}, "http_proxy": {"port"}, "ssh": {"port"},
}


CHART = REPO / "helm" / "superedge-addon"
#: Where application-grid-controller reads the CRDs it creates or updates (its prepare/crd.go).
MANIFESTS = "/etc/superedge/application-grid-controller/manifests"
CRD_FILES = ("superedge.io_deploymentgrids.yaml", "superedge.io_servicegrids.yaml",
             "superedge.io_statefulsetgrids.yaml")


def parse_toml(text: str) -> dict[str, Any]:
    """The TOML subset the chart writes (tables; quoted strings and integers), strictly: anything else fails.

    (tomllib is Python 3.11+; the project supports 3.10.)
    """
    root: dict[str, Any] = {}
    table = root
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if header := re.fullmatch(r"\[([A-Za-z0-9_.]+)\]", line):
            table = root
            for part in header.group(1).split("."):
                table = table.setdefault(part, {})
            continue
        pair = re.fullmatch(r'([A-Za-z0-9_]+|"[^"]*") = ("(?:[^"\\]|\\.)*"|-?[0-9]+)', line)
        assert pair, f"line {number} is not TOML the chart should write: {raw!r}"
        key = json.loads(pair.group(1)) if pair.group(1).startswith('"') else pair.group(1)
        assert key not in table, f"line {number}: {key} given twice"
        table[key] = json.loads(pair.group(2))
    return root


def test_parse_toml_reads_tables_strings_and_numbers() -> None:
    assert parse_toml('[a]\n  [a.b]\n    x = "1,2"\n    y = 9000\n[c]\n"k" = "v"\n') == {
        "a": {"b": {"x": "1,2", "y": 9000}}, "c": {"k": "v"}}
    with pytest.raises(AssertionError):
        parse_toml("[a]\nx = [1]\n")


def cloud_conf(helm_bin, tmp_path, *set_values: str) -> dict:  # noqa: F811
    values, _ = computed(facts(ca_pair()[0]), None)
    objects = render(helm_bin, [write_values(tmp_path, values)], set_values)
    return parse_toml(objects[("ConfigMap", "tunnel-cloud-conf")]["data"]["mode.toml"])["mode"]["cloud"]


def test_tunnel_cloud_has_the_tls_table_with_cipher_suites(helm_bin, tmp_path):  # noqa: F811
    cloud = cloud_conf(helm_bin, tmp_path)
    assert set(cloud) == set(CLOUD_KEYS)
    for table, keys in CLOUD_KEYS.items():
        assert set(cloud[table]) <= keys, table
    suites = cloud["tls"]["tls_cipher_suites"].split(",")
    # SuperEdge splits on "," and looks each name up: no blanks, no unknown names, none empty
    assert suites and set(suites) <= GO_SUITES
    assert cloud["tls"]["tls_min_version"] == "VersionTLS12"
    assert cloud["stream"]["server"] == {"grpc_port": 9000, "log_port": 51010, "metrics_port": 6000}


def test_tls_values_are_rendered_and_checked(helm_bin, tmp_path):  # noqa: F811
    cloud = cloud_conf(helm_bin, tmp_path, "tunnelCloud.tls.cipherSuites={TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}",
                       "tunnelCloud.tls.minVersion=VersionTLS13")
    assert cloud["tls"] == {"tls_cipher_suites": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                            "tls_min_version": "VersionTLS13"}
    # an empty list would silently turn off tunnel-cloud's stream server: the schema refuses it
    for bad in ("tunnelCloud.tls.cipherSuites=null", "tunnelCloud.tls.cipherSuites={TLS_RSA_WITH_RC4_128_SHA}",
                "tunnelCloud.tls.minVersion=VersionTLS10"):
        with pytest.raises(HelmFailed, match="tls"):
            cloud_conf(helm_bin, tmp_path, bad)


def test_controller_reads_the_charts_own_crds(helm_bin, tmp_path):  # noqa: F811
    values, _ = computed(facts(ca_pair()[0]), None)
    objects = render(helm_bin, [write_values(tmp_path, values)])
    data = objects[("ConfigMap", "application-grid-controller-crds")]["data"]
    assert sorted(data) == sorted(CRD_FILES)
    for name in CRD_FILES:
        text = (CHART / "crds" / name).read_text()
        assert yaml.safe_load(data[name]) == yaml.safe_load(text), name
        # the controller runs each file through Go's text/template before it decodes it
        assert "{{" not in text and "}}" not in text
        crd = yaml.safe_load(text)
        assert [version["name"] for version in crd["spec"]["versions"]] == ["v1"], name
        for version in crd["spec"]["versions"]:
            assert version["subresources"] == {"status": {}}, name
    pod = objects[("Deployment", "application-grid-controller")]["spec"]["template"]["spec"]
    (mount,) = pod["containers"][0]["volumeMounts"]
    assert mount["mountPath"] == MANIFESTS and mount["readOnly"] is True
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == "application-grid-controller-crds"


def test_helms_default_kube_version_renders(helm_bin, tmp_path):  # noqa: F811
    """No --kube-version and no cluster: helm's default version (v1.20.0 in builds without release flags)."""
    tool, env = helm_bin
    values, _ = computed(facts(ca_pair()[0]), None)
    argv = [tool.path, "template", "superedge-addon", str(CHART), "-n", "edge-system",
            "--values", str(write_values(tmp_path, values))]
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "name: tunnel-cloud-conf" in result.stdout
