"""Reading Helm's release record without helm: base64 (the API's), base64 (Helm's), gzip, JSON."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from kubectl_edge.addon.helm import decode_release
from kubectl_edge.status.parts import component_of
from kubectl_edge.status.release import release_from_record

RECORD = {
    "name": "superedge-addon", "namespace": "edge-system", "version": 3,
    "info": {"status": "pending-upgrade", "last_deployed": "2030-01-02T03:04:05.123456789Z",
             "description": "Upgrade in progress"},
    "chart": {"metadata": {"name": "superedge-addon", "version": "0.9.0", "appVersion": "v0.9.0"},
              "templates": [{"name": "templates/x.yaml", "data": "eA=="}]},
    "manifest": "---\n",
}


def _as_the_api_returns_it(payload: bytes) -> str:
    """Helm stores base64(payload) as the Secret's value; the API returns Secret data base64-encoded again."""
    return base64.b64encode(base64.b64encode(payload)).decode()


def test_gzipped_record_as_helm_3_and_4_store_it() -> None:
    stored = _as_the_api_returns_it(gzip.compress(json.dumps(RECORD).encode()))
    assert decode_release(stored) == RECORD


def test_plain_json_record_of_older_helm() -> None:
    assert decode_release(_as_the_api_returns_it(json.dumps(RECORD).encode())) == RECORD


@pytest.mark.parametrize("stored", [
    "%%%",  # not base64
    base64.b64encode(b"%%%").decode(),  # Helm's layer not base64
    _as_the_api_returns_it(b"\x1f\x8b\x08garbage"),  # gzip magic, broken stream
    _as_the_api_returns_it(b"[1, 2]"),  # JSON, not an object
])
def test_unreadable_records_are_refused(stored: str) -> None:
    with pytest.raises(ValueError):
        decode_release(stored)


def test_fields_status_shows() -> None:
    release = release_from_record(RECORD, revision=99)
    assert release.to_json() == {
        "name": "superedge-addon", "namespace": "edge-system", "revision": 3, "status": "pending-upgrade",
        "chart": "superedge-addon", "chartVersion": "0.9.0", "appVersion": "v0.9.0",
        "updated": "2030-01-02T03:04:05Z", "description": "Upgrade in progress"}
    # A record without a version keeps the Secret's revision.
    assert release_from_record({"info": {}}, revision=7).revision == 7


def test_component_counts() -> None:
    daemonset = {"kind": "DaemonSet", "metadata": {"name": "edge-health"},
                 "status": {"desiredNumberScheduled": 5, "numberReady": 4}}
    assert (component_of(daemonset).desired, component_of(daemonset).ready) == (5, 4)
    assert not component_of(daemonset).is_ready
    # A Deployment without replicas wants one; without status, none is ready.
    deployment = {"kind": "Deployment", "metadata": {"name": "tunnel-cloud"}, "spec": {}}
    assert (component_of(deployment).desired, component_of(deployment).ready) == (1, 0)
    scaled_down = {"kind": "Deployment", "metadata": {"name": "x"}, "spec": {"replicas": 0}}
    assert component_of(scaled_down).is_ready
    # A DaemonSet its controller has not counted yet wants nothing.
    assert component_of({"kind": "DaemonSet", "metadata": {"name": "new"}}).is_ready
