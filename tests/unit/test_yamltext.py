"""YAML read through libyaml gives the objects ``yaml.safe_load`` gives, and refuses what it refuses."""

from __future__ import annotations

import pytest
import yaml

from kubectl_edge import yamltext

DOCUMENTS = [
    "apiVersion: v1\nkind: Config\nclusters:\n- name: a\n  cluster: {server: 'https://127.0.0.1:6443'}\n",
    "enabled: yes\ncount: 010\nratio: 1e3\nwhen: 2026-11-27T02:30:00Z\nempty:\nport: '6443'\n",
    "key: |\n  multi\n  line\nanchor: &a {x: 1}\nalias: *a\n",
    "",
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_same_objects_as_safe_load(text: str) -> None:
    assert yamltext.load(text) == yaml.safe_load(text)


def test_uses_libyaml_when_pyyaml_has_it() -> None:
    if not yaml.__with_libyaml__:
        pytest.skip("this PyYAML was built without libyaml")
    assert yamltext._SafeLoader is yaml.CSafeLoader


def test_python_objects_are_refused() -> None:
    with pytest.raises(yaml.YAMLError):
        yamltext.load("!!python/object/apply:os.system ['true']\n")
    with pytest.raises(yaml.YAMLError):
        yamltext.load("a: [unclosed\n")


def test_every_document_of_a_stream() -> None:
    stream = "a: 1\n---\n# nothing\n---\nb: [x, y]\n"
    assert list(yamltext.load_all(stream)) == list(yaml.safe_load_all(stream))
