"""Pure parts of adopting a SuperEdge edgeadm installation."""

from __future__ import annotations

from kubectl_edge.addon import adopt, adopt_material, certs
from kubectl_edge.addon.certificates import KeyPair


def _result() -> certs.Result:
    pair = KeyPair("made-cert", "made-key")
    return certs.Result(certs.Material(tunnel_ca="made-ca", tunnel_cloud=pair, tunnel_egress=pair,
                                       tunnel_token="made-token", webhook_ca="made-webhook-ca", webhook=pair,
                                       hmac_key="made-hmac", lite_apiserver=None))


def test_keep_material_keeps_everything_superedge_made() -> None:
    pair = KeyPair("se-cert", "se-key")
    existing = certs.Existing(tunnel_ca="se-ca", tunnel_cloud=pair, tunnel_egress=pair, tunnel_token="se-token",
                              webhook_ca="se-webhook-ca", webhook=pair, hmac_key="se-hmac", lite_apiserver=pair)
    kept = adopt_material.keep_material(existing, _result())
    material = kept.material
    assert (material.tunnel_ca, material.tunnel_token, material.hmac_key, material.webhook_ca) == \
        ("se-ca", "se-token", "se-hmac", "se-webhook-ca")
    assert material.tunnel_cloud == pair and material.lite_apiserver == pair
    assert not any("made what" in note for note in kept.notes)


def test_keep_material_makes_only_what_is_missing_and_keeps_the_tunnel_trio_together() -> None:
    pair = KeyPair("se-cert", "se-key")
    existing = certs.Existing(tunnel_ca="se-ca", tunnel_cloud=pair, tunnel_egress=None, tunnel_token="se-token")
    kept = adopt_material.keep_material(existing, _result())
    assert kept.material.tunnel_ca == "made-ca" and kept.material.tunnel_cloud.cert == "made-cert"
    assert kept.material.tunnel_token == "se-token" and kept.material.hmac_key == "made-hmac"
    assert any("tunnel certificates" in note and "made what" in note for note in kept.notes)


def test_cleaned_drops_what_the_server_maintains() -> None:
    live = {"apiVersion": "apps/v1", "kind": "Deployment", "status": {"replicas": 1},
            "metadata": {"name": "x", "namespace": "edge-system", "uid": "u", "resourceVersion": "1",
                         "generation": 2, "creationTimestamp": "t", "managedFields": [],
                         "annotations": {"deployment.kubernetes.io/revision": "1"}, "labels": {"app": "x"}},
            "spec": {"replicas": 1}}
    assert adopt.cleaned(live) == {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 1},
                                   "metadata": {"name": "x", "namespace": "edge-system", "labels": {"app": "x"}}}
    assert live["metadata"]["uid"] == "u", "the live body is not changed"


def test_grpc_node_port_and_edge_virtual_addr() -> None:
    service = {"spec": {"ports": [{"name": "ssh", "nodePort": 30001}, {"name": "grpc", "nodePort": 30002}]}}
    assert adopt_material.grpc_node_port(service) == 30002
    assert adopt_material.grpc_node_port(None) is None
    assert adopt_material.edge_virtual_addr({"data": {"edge-virtual-addr": "169.254.20.11"}}) == "169.254.20.11"
    assert adopt_material.edge_virtual_addr({"data": {"edge-virtual-addr": "169.254.20.11; reboot"}}) is None


def test_tunnel_host() -> None:
    def conf(line: str) -> dict[str, object]:
        return {"data": {"mode.toml": f'[mode]\n  [mode.edge.stream.client]\n    token = "x"\n    {line}\n'}}
    assert adopt_material.tunnel_host(conf('server_name = "198.18.0.1:31000"')) == "198.18.0.1"
    assert adopt_material.tunnel_host(conf('server_name = "Edge.Example.test:31000"')) == "edge.example.test"
    assert adopt_material.tunnel_host(conf('server_name = "[fd00::1]:31000"')) == "fd00::1"
    assert adopt_material.tunnel_host(conf('server_name = "a;b:31000"')) is None
    assert adopt_material.tunnel_host(None) is None
