"""helm: its version, the argv of the commands the components phase runs, running them, and helm's storage.

Pure functions build the argv of ``helm upgrade --install``, ``helm template`` (for --dry-run) and
``helm uninstall`` for helm 3 (>= 3.8) and helm 4; helm runs only in ``helm_version`` and the ``run_*``
functions.

helm 3 and helm 4 differ in the flags used here: helm 4's ``--wait`` takes a strategy (``--wait=watcher``
waits for readiness with kstatus; a bare ``--wait`` means the same, ``hookOnly`` is its default), and helm 4
installs new releases with server-side apply. ``helm uninstall --ignore-not-found`` exists only from helm
3.13 on, so a missing release is recognised by helm's message instead.

helm's storage is read without helm: the release Secrets (``owner=helm``) and the ownership annotations helm
puts on the objects of a release.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubectl_edge.addon.chart import NAMESPACE, RELEASE
from kubectl_edge.cluster.client import Cluster
from kubectl_edge.cluster.kinds import SECRET
from kubectl_edge.errors import EdgeError, PreconditionFailed

MIN_HELM = (3, 8)
HELM_RELEASE_ANNOTATION = "meta.helm.sh/release-name"
HELM_NAMESPACE_ANNOTATION = "meta.helm.sh/release-namespace"
#: Helm's release Secrets carry these labels (and ``status``, ``version``).
RELEASE_SELECTOR = f"owner=helm,name={RELEASE}"
DEPLOYED = "deployed"
#: Release Secrets hold the whole chart; few a page.
RELEASE_PAGE_SIZE = 5
_GZIP_MAGIC = b"\x1f\x8b\x08"


class HelmFailed(EdgeError):
    """helm ran and failed; the message carries its error lines."""


@dataclass(frozen=True, order=True)
class HelmVersion:
    """A helm release version."""

    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True)
class Helm:
    """A helm executable and its version (which decides the flags)."""

    path: str
    version: HelmVersion


def parse_helm_version(text: str) -> HelmVersion:
    """The version in ``helm version --short`` output (``v3.22.0+gabc``); refuse helm older than 3.8."""
    match = re.search(r"v(\d+)\.(\d+)\.(\d+)", text)
    if not match:
        raise PreconditionFailed(f"cannot tell helm's version from {text.strip()!r}",
                                 "install helm 3.8 or newer (or helm 4)")
    version = HelmVersion(int(match[1]), int(match[2]), int(match[3]))
    if (version.major, version.minor) < MIN_HELM:
        raise PreconditionFailed(f"helm {version} is too old", "install helm 3.8 or newer (or helm 4)")
    return version


# --- helm's storage ----------------------------------------------------------------------------------------

def owned_by_release(live: Mapping[str, Any], release: str = RELEASE, namespace: str = NAMESPACE) -> bool:
    """True when a live object belongs to the release (helm refuses to adopt any other)."""
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    return bool(annotations.get(HELM_RELEASE_ANNOTATION) == release
                and annotations.get(HELM_NAMESPACE_ANNOTATION) == namespace)


def decode_release(stored: str) -> dict[str, Any]:
    """Helm's release record from a release Secret's ``data.release``.

    The API returns Secret data base64-encoded; Helm's own value inside is base64 of gzip of JSON (older
    Helm versions stored plain JSON under the same base64, which is accepted too).

    Raises:
        ValueError: The value is not such a record.
    """
    try:
        helm_value = base64.b64decode(stored, validate=True)
        payload = base64.b64decode(helm_value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not base64: {exc}") from exc
    if payload.startswith(_GZIP_MAGIC):
        try:
            payload = gzip.decompress(payload)
        except (OSError, EOFError) as exc:
            raise ValueError(f"not gzip: {exc}") from exc
    document = json.loads(payload)
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    return document


def newest_release_record(cluster: Cluster) -> tuple[int, dict[str, Any] | None] | None:
    """The newest revision of the release (whatever its status) and its record, read without helm.

    The record is None when it cannot be decoded; the whole answer is None when helm has no revision stored.
    """
    newest: tuple[int, str] | None = None
    for secret in cluster.list_objects(SECRET, NAMESPACE, label_selector=RELEASE_SELECTOR,
                                       page_size=RELEASE_PAGE_SIZE):
        labels = (secret.get("metadata") or {}).get("labels") or {}
        try:
            revision = int(labels.get("version", "0"))
        except ValueError:
            continue
        stored = (secret.get("data") or {}).get("release")
        if stored and (newest is None or revision > newest[0]):
            newest = (revision, str(stored))  # only the newest is kept, and decoded once at the end
    if newest is None:
        return None
    revision, stored = newest
    try:
        return revision, decode_release(stored)
    except ValueError:
        return revision, None


def release_deployed(cluster: Cluster) -> bool:
    """Whether helm's record of a deployed release exists (its storage Secret), read without helm."""
    selector = f"{RELEASE_SELECTOR},status={DEPLOYED}"
    return next(iter(cluster.list_objects(SECRET, NAMESPACE, label_selector=selector, page_size=1)),
                None) is not None


# --- argv --------------------------------------------------------------------------------------------------

def _duration(seconds: float) -> str:
    return f"{max(1, round(seconds))}s"


def _connection(kubeconfig: str | None, kube_context: str | None) -> list[str]:
    argv = ["--kubeconfig", kubeconfig] if kubeconfig else []
    return argv + (["--kube-context", kube_context] if kube_context else [])


def _values_args(values_files: Sequence[str | os.PathLike[str]], set_values: Sequence[str]) -> list[str]:
    argv: list[str] = []
    for path in values_files:
        argv += ["--values", os.fspath(path)]
    for assignment in set_values:
        argv += ["--set", assignment]
    return argv


def _wait(helm: Helm) -> str:
    # helm 4's --wait takes a strategy; "watcher" is what a bare --wait means there.
    return "--wait=watcher" if helm.version.major >= 4 else "--wait"


def upgrade_argv(helm: Helm, chart: str | os.PathLike[str], values_files: Sequence[str | os.PathLike[str]], *,
                 set_values: Sequence[str] = (), wait: bool = False, timeout: float | None = None,
                 kubeconfig: str | None = None, kube_context: str | None = None, namespace: str = NAMESPACE,
                 release: str = RELEASE, create_namespace: bool = True, force_conflicts: bool = False) -> list[str]:
    """``helm upgrade --install RELEASE CHART -n NS --create-namespace --values ... [--set ...] [--wait]``.

    ``force_conflicts``: helm 4 applies server-side, so a field of a release object that someone else changed
    (``kubectl edit``) makes the upgrade fail with a conflict naming the field and the manager; this takes the
    field back (``--force-conflicts``). helm 3 merges client-side and takes such fields back anyway.
    """
    argv = [helm.path, "upgrade", "--install", release, os.fspath(chart), "--namespace", namespace,
            *(["--create-namespace"] if create_namespace else []), *_values_args(values_files, set_values)]
    if force_conflicts and helm.version.major >= 4:
        argv.append("--force-conflicts")
    if wait:
        argv.append(_wait(helm))
    if timeout is not None:
        argv += ["--timeout", _duration(timeout)]
    return argv + _connection(kubeconfig, kube_context)


def template_argv(helm: Helm, chart: str | os.PathLike[str], values_files: Sequence[str | os.PathLike[str]], *,
                  set_values: Sequence[str] = (), kube_version: str | None = None, is_upgrade: bool = False,
                  namespace: str = NAMESPACE, release: str = RELEASE) -> list[str]:
    """``helm template`` with the CRDs, for --dry-run: what the release would hold (no cluster contacted).

    Pass the cluster's version as ``kube_version``: helm's own default Capabilities may be older than the
    chart's kubeVersion (a helm built from source without release flags assumes v1.20).
    """
    argv = [helm.path, "template", release, os.fspath(chart), "--namespace", namespace, "--include-crds",
            *_values_args(values_files, set_values)]
    if kube_version:
        argv += ["--kube-version", kube_version]
    if is_upgrade:
        argv.append("--is-upgrade")
    return argv


def uninstall_argv(helm: Helm, *, wait: bool = False, timeout: float | None = None, kubeconfig: str | None = None,
                   kube_context: str | None = None, namespace: str = NAMESPACE, release: str = RELEASE) -> list[str]:
    """``helm uninstall RELEASE -n NS [--wait]`` (``run_uninstall`` tells a missing release apart)."""
    argv = [helm.path, "uninstall", release, "--namespace", namespace]
    if wait:
        argv.append(_wait(helm))
    if timeout is not None:
        argv += ["--timeout", _duration(timeout)]
    return argv + _connection(kubeconfig, kube_context)


@contextlib.contextmanager
def private_file(text: str, suffix: str = ".yaml") -> Iterator[Path]:
    """A file only the user can read, holding ``text`` (values with keys, a kubeconfig), removed afterwards."""
    fd, name = tempfile.mkstemp(prefix="kubectl-edge-", suffix=suffix)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        yield Path(name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


# --- running helm ------------------------------------------------------------------------------------------

def _run(argv: Sequence[str], what: str, env: Mapping[str, str] | None, timeout: float | None
         ) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                                env=dict(env) if env is not None else None, check=False)
    except FileNotFoundError as exc:
        raise PreconditionFailed(f"helm not found: {argv[0]}", "install helm 3.8 or newer (or helm 4)") from exc
    except subprocess.TimeoutExpired as exc:
        raise HelmFailed(f"{what} did not finish within {timeout:.0f} s", "run it again with a longer --timeout"
                         ) from exc
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        # From helm's "Error:" line on (earlier lines are warnings), at most a dozen lines.
        start = next((i for i, line in enumerate(lines) if line.startswith("Error:")), max(0, len(lines) - 3))
        detail = " ".join(lines[start:start + 12]).removeprefix("Error: ") or f"exit code {result.returncode}"
        raise HelmFailed(f"{what} failed: {detail}", "fix the cause helm names and run the command again")
    return result


def helm_version(path: str, env: Mapping[str, str] | None = None) -> Helm:
    """Ask helm its version (``helm version --short``)."""
    result = _run([path, "version", "--short"], "helm version", env, 30)
    return Helm(path, parse_helm_version(result.stdout))


def run_upgrade(argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float | None = None) -> str:
    """Run ``helm upgrade --install``; return its output (the release notes)."""
    return _run(argv, "helm upgrade --install", env, timeout).stdout


def run_template(argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float | None = 120) -> str:
    """Run ``helm template``; return the manifest."""
    return _run(argv, "helm template", env, timeout).stdout


def run_uninstall(argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float | None = None) -> bool:
    """Run ``helm uninstall``; False when there was no release to uninstall."""
    try:
        _run(argv, "helm uninstall", env, timeout)
    except HelmFailed as exc:
        # The same words in helm 3 and 4: "uninstall: Release not loaded: NAME: release: not found".
        if "release: not found" in exc.message:
            return False
        raise
    return True
