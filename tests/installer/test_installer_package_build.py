"""``kubectl edge package build`` and ``kubectl edge installer``: deterministic artefacts edgeadm accepts.

These drive the plugin, which needs Python >= 3.10; under older interpreters they are skipped.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

if sys.version_info < (3, 10):
    pytest.skip("the plugin needs Python >= 3.10", allow_module_level=True)

from edge_installer.output import Output
from edge_installer.package import inspect

from edge_protocol import package as layout
from edge_protocol.platforms import go_arch
from kubectl_edge.errors import ConfigError
from kubectl_edge.node.package import PackageInputs, build_package

REPO = Path(__file__).resolve().parents[2]
HOST = go_arch(platform.machine())
ELF = {"amd64": b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00\x3e\x00",
       "arm64": b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00\xb7\x00"}
OTHER = "arm64" if HOST != "arm64" else "amd64"


@pytest.fixture
def inputs(tmp_path: Path) -> PackageInputs:
    """A kubelet that reports v1.31.2 when run, two CNI plugins, a lite-apiserver."""
    kubelet = tmp_path / "kubelet"
    kubelet.write_text("#!/bin/sh\necho 'Kubernetes v1.31.2'\n")
    kubelet.chmod(0o755)
    cni = tmp_path / "cni"
    cni.mkdir()
    (cni / "bridge").write_bytes(b"bridge")
    (cni / "loopback").write_bytes(b"loopback")
    lite = tmp_path / "lite-apiserver"
    lite.write_bytes(b"lite")
    return PackageInputs(kubelet, cni, HOST, None, lite)


def test_the_package_is_deterministic_and_has_superedges_layout(inputs: PackageInputs, tmp_path: Path) -> None:
    first = build_package(inputs, tmp_path)
    assert first.path == tmp_path / f"kube-linux-{HOST}-v1.31.2.tar.gz"
    assert first.kubernetes_version == "v1.31.2"
    os.utime(inputs.kubelet, (0, 0))  # file times are not inputs
    second = build_package(inputs, tmp_path / "again.tar.gz")
    assert second.path.read_bytes() == first.path.read_bytes()
    assert second.sha256 == hashlib.sha256(first.path.read_bytes()).hexdigest()
    data = first.path.read_bytes()
    assert gzip.GzipFile(fileobj=io.BytesIO(data)).read()  # a plain gzip stream
    assert data[4:8] == b"\x00\x00\x00\x00"  # gzip header mtime 0
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        members = archive.getmembers()
        names = [m.name for m in members]
        assert names == sorted(names)
        assert {m.mtime for m in members} == {0} and {(m.uid, m.gid) for m in members} == {(0, 0)}
        for directory in (layout.BIN, layout.CNI, layout.CONTAINER, layout.SCRIPT):
            assert directory in names
        manifest = json.loads(archive.extractfile(layout.MANIFEST).read())  # type: ignore[union-attr]
        for name in names:
            member = archive.getmember(name)
            if member.isfile() and name != layout.MANIFEST:
                content = archive.extractfile(member).read()  # type: ignore[union-attr]
                assert manifest["files"][name] == hashlib.sha256(content).hexdigest()
    assert manifest["architecture"] == HOST and manifest["kubernetesVersion"] == "v1.31.2"
    assert sorted(manifest["files"]) == [f"{layout.BIN}/kubelet", f"{layout.BIN}/lite-apiserver",
                                         f"{layout.CNI}/cni-plugins-linux-{HOST}.tgz"]


def test_edgeadm_accepts_what_the_plugin_builds(inputs: PackageInputs, tmp_path: Path) -> None:
    built = build_package(inputs, tmp_path)
    package = inspect(str(built.path), HOST, built.sha256, Output(0, io.StringIO(), io.StringIO()))
    assert package.has_manifest and package.notes == []
    assert sorted(item.target for item in package.files) == [
        "/opt/cni/bin/bridge", "/opt/cni/bin/loopback", "/usr/bin/kubelet", "/usr/bin/lite-apiserver"]


def test_architecture_comes_from_the_kubelet_and_must_agree(inputs: PackageInputs, tmp_path: Path) -> None:
    inputs.kubelet.write_bytes(ELF[OTHER] + b"rest")
    built = build_package(PackageInputs(inputs.kubelet, inputs.cni_dir, None, "v1.31.2"), tmp_path)
    assert built.architecture == OTHER
    with pytest.raises(ConfigError, match=f"--arch {HOST} does not match the kubelet, which is built for {OTHER}"):
        build_package(PackageInputs(inputs.kubelet, inputs.cni_dir, HOST, "v1.31.2"), tmp_path)
    inputs.kubelet.write_bytes(b"#!/bin/sh\n")
    with pytest.raises(ConfigError, match="cannot tell the kubelet's architecture"):
        build_package(PackageInputs(inputs.kubelet, inputs.cni_dir, None, "v1.31.2"), tmp_path)


def test_bad_inputs_are_refused(inputs: PackageInputs, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a version such as"):
        build_package(PackageInputs(inputs.kubelet, inputs.cni_dir, HOST, "latest"), tmp_path)
    with pytest.raises(ConfigError, match="is not a directory"):
        build_package(PackageInputs(inputs.kubelet, tmp_path / "nope", HOST, "v1.31.2"), tmp_path)
    other = tmp_path / "other" / "kubectl"
    other.parent.mkdir()
    other.write_bytes(ELF[OTHER])
    with pytest.raises(ConfigError, match=f"is built for {OTHER}, the package for {HOST}"):
        build_package(PackageInputs(inputs.kubelet, inputs.cni_dir, HOST, "v1.31.2", binaries=(other,)), tmp_path)
    shell = tmp_path / "sh"
    shell.write_bytes(ELF[HOST])
    with pytest.raises(ConfigError, match="would be installed as /usr/bin/sh, which edgeadm does not install"):
        build_package(PackageInputs(inputs.kubelet, inputs.cni_dir, HOST, "v1.31.2", binaries=(shell,)), tmp_path)


def _plugin(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "KUBECONFIG": ""}
    return subprocess.run([sys.executable, "-m", "kubectl_edge", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_the_package_build_command(inputs: PackageInputs, tmp_path: Path) -> None:
    output = tmp_path / "out.tar.gz"
    result = _plugin("package", "build", "--kubelet", str(inputs.kubelet), "--cni", str(inputs.cni_dir),
                     "--arch", HOST, "-o", str(output), "--format", "json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["sha256"] == hashlib.sha256(output.read_bytes()).hexdigest()
    refused = _plugin("package", "build", "--kubelet", str(tmp_path / "missing"), "--cni", str(inputs.cni_dir))
    assert refused.returncode == 1 and "error: cannot read --kubelet" in refused.stderr


def test_the_installer_command_writes_the_reproducible_zipapp(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("edgeadm_build", REPO / "installer" / "build.py")
    assert spec is not None and spec.loader is not None
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    result = _plugin("installer", "-o", str(tmp_path / "edgeadm"))
    assert result.returncode == 0, result.stderr
    written = tmp_path / "edgeadm"
    assert written.read_bytes() == builder.build_archive(REPO)
    assert written.stat().st_mode & 0o777 == 0o755
    assert f"sha256 {hashlib.sha256(written.read_bytes()).hexdigest()}" in result.stderr
    ran = subprocess.run([str(written), "version"], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0 and ran.stdout.startswith("edgeadm v")


def test_the_wheel_carries_the_zipapp(tmp_path: Path) -> None:
    pytest.importorskip("hatchling", reason="building the wheel offline needs hatchling (pip install -e '.[test]')")
    import importlib.util
    import zipfile

    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                             "--quiet", "-w", str(tmp_path / "dist"), str(REPO)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    wheel = next((tmp_path / "dist").glob("kubectl_edge-*.whl"))
    spec = importlib.util.spec_from_file_location("edgeadm_build", REPO / "installer" / "build.py")
    assert spec is not None and spec.loader is not None
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("kubectl_edge/_data/edgeadm") == builder.build_archive(REPO)
        assert not [name for name in archive.namelist() if name.startswith("edge_installer/")]
        archive.extractall(tmp_path / "installed")
    # Installed from the wheel, the plugin hands out the prebuilt file (no installer/ sources next to it).
    probe = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                            "from kubectl_edge.node.installer import installer_archive; print(installer_archive()[1])",
                            str(tmp_path / "installed")], capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip() == "prebuilt", probe.stderr
