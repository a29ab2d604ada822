"""addon's progress lines: every verb in its past tense."""

from __future__ import annotations

import pytest

from kubectl_edge.addon.changes import Action, Verb
from kubectl_edge.addon.run import PAST_TENSE, progress_line
from kubectl_edge.cluster.kinds import CONFIG_MAP, ObjectRef

REF = ObjectRef(CONFIG_MAP, "kubeadm-config", "kube-system")


@pytest.mark.parametrize(("verb", "line"), [
    (Verb.create, "created configmap kube-system/kubeadm-config"),
    (Verb.patch, "patched configmap kube-system/kubeadm-config: adds a key"),
    (Verb.keep, "kept configmap kube-system/kubeadm-config: adds a key"),
])
def test_progress_line_past_tense(verb: Verb, line: str) -> None:
    assert progress_line(Action(verb, REF, note="adds a key")) == line


def test_every_verb_has_a_past_tense() -> None:
    # A verb added later without its past tense would fail here, not in a user's progress output.
    assert set(PAST_TENSE) == set(Verb)
