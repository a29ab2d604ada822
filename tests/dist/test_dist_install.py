"""The built artefacts installed as users install them: the wheel into a fresh virtualenv, the krew archive
with the real krew (built from Go modules, hack/krew) under a temporary KREW_ROOT, both run through kubectl
against a real local cluster."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clusterkit import admin_request, audit_mark, persisted_writes_since
from distkit import binary_dir, built_dist, one

pytestmark = pytest.mark.integration



class ConnectionRecorder:
    """A loopback listener used as krew's HTTP(S) proxy: it counts connections and closes each at once, so
    anything krew tries to fetch from the internet fails immediately and is seen by the test."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()

    def env(self) -> dict[str, str]:
        return {name: self.url for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")} | {
            "NO_PROXY": "", "no_proxy": ""}

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_dist(tmp_path_factory)


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kubectl, helm (3) and kubectl-krew from the binary cache, in a directory of their own."""
    directory = tmp_path_factory.mktemp("tools")
    binaries = binary_dir()
    for link, target in (("kubectl", "kubectl"), ("helm", "helm3"), ("kubectl-krew", "krew")):
        (directory / link).symlink_to(binaries / target)
    return directory


def _run(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def _base_env(path: list[Path], home: Path, kubeconfig: str) -> dict[str, str]:
    return {"PATH": os.pathsep.join([*(str(p) for p in path), "/usr/bin", "/bin"]), "HOME": str(home),
            "KUBECONFIG": kubeconfig, "NO_COLOR": "1", "LANG": "C.UTF-8"}


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtualenv with nothing but ``pip install dist/*.whl`` (dependencies from the package index)."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    # This virtualenv's pip installs into the new one (pip --python), which saves bootstrapping a pip there.
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(root / "bin" / "python"), "install",
                              "--quiet", "--disable-pip-version-check", "--no-input", "--no-compile",
                              str(one(dist, "*.whl"))],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    yield root


def test_wheel_in_a_fresh_virtualenv_is_a_complete_plugin(venv: Path, tools: Path, bare_cluster: Any,
                                                          tmp_path: Path) -> None:
    env = _base_env([venv / "bin", tools], tmp_path, bare_cluster.kubeconfig)
    listed = _run(["kubectl", "plugin", "list"], env, tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert str(venv / "bin" / "kubectl-edge") in listed.stdout.splitlines()

    # The dry run renders the chart the wheel carries with helm template, and writes nothing.
    mark = audit_mark(bare_cluster)
    dry = _run(["kubectl", "edge", "addon", "--dry-run", "-o", "json"], env, tmp_path)
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert plan["dryRun"] is True
    assert "# Source: superedge-addon/templates/" in plan["rendered"]
    assert "kind: DaemonSet" in plan["rendered"]
    assert persisted_writes_since(bare_cluster, mark) == []

    # The installer comes out of the wheel, not out of a checkout.
    target = tmp_path / "e"
    written = _run(["kubectl", "edge", "installer", "-o", str(target)], env, tmp_path)
    assert written.returncode == 0, written.stderr
    assert "prebuilt" in written.stderr
    assert os.access(target, os.X_OK)
    usage = _run([str(target), "--help"], env, tmp_path)
    assert usage.returncode == 0, usage.stderr
    assert "join" in usage.stdout

    # kubectl finds the completion helper the wheel installs next to the plugin.
    completed = _run(["kubectl", "__complete", "edge", "tok"], env, tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert [line.split("\t")[0] for line in completed.stdout.splitlines()] == ["token", ":4"]


def test_krew_installs_runs_and_uninstalls_the_archive(dist: Path, tools: Path, bare_cluster: Any,
                                                      tmp_path: Path) -> None:
    krew_root = tmp_path / "krew"
    # krew's uninstall wants a local index (a git checkout); an empty one is made here instead of cloning.
    index = krew_root / "index" / "default"
    index.mkdir(parents=True)
    subprocess.run(["git", "init", "--quiet", str(index)], check=True, timeout=30)
    env = {**_base_env([krew_root / "bin", tools], tmp_path, bare_cluster.kubeconfig),
           "KREW_ROOT": str(krew_root), "KREW_NO_UPGRADE_CHECK": "1"}
    internet = ConnectionRecorder()
    krew_env = {**env, **internet.env()}

    installed = _run(["kubectl", "krew", "install", f"--manifest={dist / 'krew-manifest.yaml'}",
                      f"--archive={one(dist, 'kubectl-edge_v*_linux_amd64.tar.gz')}"], krew_env, tmp_path, 60)
    assert installed.returncode == 0, installed.stderr
    link = krew_root / "bin" / "kubectl-edge"
    assert link.is_symlink()
    store = Path(os.path.realpath(link)).parent
    assert (store / "LICENSE").is_file()

    listed = _run(["kubectl", "plugin", "list"], env, tmp_path)
    assert str(link) in listed.stdout.splitlines()

    version = _run(["kubectl", "edge", "version", "-o", "json"], env, tmp_path)
    assert version.returncode == 0, version.stderr
    server = admin_request(bare_cluster, "/version").body
    assert json.loads(version.stdout)["serverVersion"]["gitVersion"] == server["gitVersion"]

    # The frozen binary answers as kubectl_complete-edge too; the helper goes next to the plugin on PATH.
    helper = _run(["kubectl", "edge", "completion", "install"], env, tmp_path)
    assert helper.returncode == 0, helper.stderr
    assert (krew_root / "bin" / "kubectl_complete-edge").is_symlink()
    completed = _run(["kubectl", "__complete", "edge", "version", "-o", ""], env, tmp_path)
    assert [line for line in completed.stdout.splitlines()][-1] == ":4"
    assert {"json", "yaml"} <= set(completed.stdout.splitlines())

    removed = _run(["kubectl", "krew", "uninstall", "edge"], krew_env, tmp_path, 60)
    assert removed.returncode == 0, removed.stderr
    assert not link.exists() and not link.is_symlink()
    assert not (krew_root / "store" / "edge").exists()
    listed = _run(["kubectl", "plugin", "list"], env, tmp_path)
    assert str(link) not in listed.stdout
    internet.close()
    assert internet.connections == 0, "krew tried to reach the internet (index update or upgrade check)"
