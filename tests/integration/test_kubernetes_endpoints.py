"""The local cluster keeps default/kubernetes' Endpoints and EndpointSlice as a real one does."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from clusterkit import admin_request, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))
import localcluster


def test_the_endpoint_reconciler_advertises_an_address_of_the_test_range(bare_cluster: Any) -> None:
    paths = ("/api/v1/namespaces/default/endpoints/kubernetes",
             "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes")
    for path in paths:
        assert wait_for(lambda path=path: admin_request(bare_cluster, path).status == 200 or None, 30), path
    endpoints = admin_request(bare_cluster, paths[0]).body
    assert endpoints["subsets"] == [{"addresses": [{"ip": localcluster.ADVERTISE_ADDRESS}],
                                     "ports": [{"name": "https", "port": bare_cluster.api_port, "protocol": "TCP"}]}]
    endpoint_slice = admin_request(bare_cluster, paths[1]).body
    assert [e["addresses"] for e in endpoint_slice["endpoints"]] == [[localcluster.ADVERTISE_ADDRESS]]
    assert localcluster.ADVERTISE_ADDRESS.startswith("198.18.")
