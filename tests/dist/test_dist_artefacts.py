"""``make dist``'s artefacts: what each holds, the krew manifest krew's own validator accepts, and that a
second build from the same commit gives the same bytes."""

from __future__ import annotations

import hashlib
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml
from distkit import REPO, binary_dir, built_dist, one, run_dist, sums

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_dist(tmp_path_factory)


def _commit_time() -> int:
    return int(subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout)


def test_sums_cover_every_artefact_and_match(dist: Path) -> None:
    listed = sums(dist)
    on_disk = {path.name for path in dist.iterdir() if path.name != "SHA256SUMS"}
    assert set(listed) == on_disk
    for name in ("edgeadm", "krew-manifest.yaml"):
        assert name in listed
    one(dist, "kubectl_edge-*.tar.gz")
    one(dist, "kubectl_edge-*-py3-none-any.whl")
    one(dist, "kubectl-edge_v*_linux_amd64.tar.gz")
    for name, digest in listed.items():
        assert hashlib.sha256((dist / name).read_bytes()).hexdigest() == digest, name
    # The format sha256sum reads.
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=dist, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_wheel_carries_the_chart_the_installer_and_both_scripts(dist: Path) -> None:
    wheel = one(dist, "*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        edgeadm = archive.read("kubectl_edge/_data/edgeadm")
        entry_points = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
        chart_yaml = yaml.safe_load(archive.read("kubectl_edge/_chart/superedge-addon/Chart.yaml"))
    chart_dir = REPO / "helm" / "superedge-addon"
    for path in chart_dir.rglob("*"):
        if path.is_file():
            assert f"kubectl_edge/_chart/superedge-addon/{path.relative_to(chart_dir).as_posix()}" in names
    assert chart_yaml["name"] == "superedge-addon"
    assert edgeadm == (dist / "edgeadm").read_bytes()
    assert edgeadm.startswith(b"#!/usr/bin/env python3\n")
    assert "kubectl-edge = kubectl_edge.cli.app:main" in entry_points
    assert "kubectl_complete-edge = kubectl_edge.cli.commands.completion:main" in entry_points
    assert not any("__pycache__" in name or name.startswith(("tests/", "hack/")) for name in names)


def test_sdist_holds_what_the_wheel_is_built_from_and_no_more(dist: Path) -> None:
    with tarfile.open(one(dist, "kubectl_edge-*.tar.gz")) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("pyproject.toml", "LICENSE", "README.md", "installer/build.py", "installer/hatch_build.py",
                   "helm/superedge-addon/Chart.yaml", "kubectl_edge/cli/commands/completion.py",
                   "edge_protocol/token.py"):
        assert needed in names
    # hatchling adds .gitignore itself; caches, CI files, tests and the Go modules stay out.
    assert not [name for name in names if name.startswith(("tests/", "hack/", "bench/", ".ci/", ".import_linter"))]


def test_krew_archive_is_reproducible_tar_with_license(dist: Path) -> None:
    path = one(dist, "kubectl-edge_v*_linux_amd64.tar.gz")
    raw = path.read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    assert raw[4:8] == b"\0\0\0\0", "gzip header mtime must be 0"
    assert raw[3] & 0x08 == 0, "gzip header must carry no file name"
    with tarfile.open(path) as archive:
        members = archive.getmembers()
        license_text = archive.extractfile("LICENSE").read()  # type: ignore[union-attr]
    names = [member.name for member in members]
    assert names == sorted(names)
    assert license_text == (REPO / "LICENSE").read_bytes()
    epoch = _commit_time()
    for member in members:
        assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")
        assert member.mtime == epoch
        assert member.isfile() or member.isdir(), f"krew extracts only files and directories: {member.name}"
    executable = next(member for member in members if member.name == "kubectl-edge/kubectl-edge")
    assert executable.mode == 0o755


def test_manifest_describes_the_archive_and_krew_validates_it(dist: Path, tmp_path: Path) -> None:
    manifest = yaml.safe_load((dist / "krew-manifest.yaml").read_text())
    archive = one(dist, "kubectl-edge_v*_linux_amd64.tar.gz")
    (platform,) = manifest["spec"]["platforms"]
    assert platform["selector"] == {"matchLabels": {"os": "linux", "arch": "amd64"}}
    assert platform["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert platform["uri"].endswith("/" + archive.name)
    assert manifest["spec"]["version"] == "v" + archive.name.split("_v")[1].split("_")[0]
    validator = binary_dir() / "validate-krew-manifest"
    # The validator wants the file named after the plugin, as in krew-index (plugins/edge.yaml).
    named = tmp_path / f"{manifest['metadata']['name']}.yaml"
    named.write_text((dist / "krew-manifest.yaml").read_text())
    ok = subprocess.run([str(validator), "-manifest", str(named), "-skip-install"], capture_output=True, text=True,
                        timeout=60)
    assert ok.returncode == 0, ok.stderr
    # The same validator rejects what krew-index would: an uppercase hash.
    named.write_text((dist / "krew-manifest.yaml").read_text().replace(platform["sha256"], platform["sha256"].upper()))
    bad = subprocess.run([str(validator), "-manifest", str(named), "-skip-install"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode != 0
    assert "sha256" in bad.stderr


def test_manifest_only_regenerates_from_the_archives_present(dist: Path, tmp_path: Path) -> None:
    copy = tmp_path / "collected"
    copy.mkdir()
    for name in (one(dist, "kubectl-edge_v*_linux_amd64.tar.gz").name, "edgeadm"):
        (copy / name).write_bytes((dist / name).read_bytes())
    run_dist(copy, "--manifest-only")
    assert (copy / "krew-manifest.yaml").read_text() == (dist / "krew-manifest.yaml").read_text()
    assert set(sums(copy)) == {"edgeadm", "krew-manifest.yaml", one(dist, "kubectl-edge_v*").name}


def test_two_builds_of_the_same_commit_are_identical(dist: Path, tmp_path: Path) -> None:
    second = tmp_path / "second"
    run_dist(second)
    assert (second / "SHA256SUMS").read_text() == (dist / "SHA256SUMS").read_text()
