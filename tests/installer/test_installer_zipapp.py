"""The edgeadm zipapp: one reproducible file, standard library only, running on every CPython >= 3.8.

Interpreters come from pyenv (``/root/.pyenv/versions``, or ``EDGEADM_PYTHONS``: a list of interpreters
separated by the path separator); those missing on a machine are skipped.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
import pkgutil
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
PYENV = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("edgeadm_build", REPO / "installer" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _interpreters() -> dict[str, str]:
    """Minor version ("3.8") -> interpreter, for every CPython found."""
    configured = os.environ.get("EDGEADM_PYTHONS")
    candidates = configured.split(os.pathsep) if configured else sorted(glob.glob(str(PYENV / "*" / "bin" / "python")))
    found: dict[str, str] = {}
    for candidate in candidates:
        match = re.search(r"(\d+)\.(\d+)\.\d+", candidate)
        if match and os.access(candidate, os.X_OK):
            found[f"{match.group(1)}.{match.group(2)}"] = candidate
    return found


PYTHONS = _interpreters()
SUPPORTED = [version for version in ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")]
TOO_OLD = ["2.7", "3.6", "3.7"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The zipapp, built from this checkout."""
    builder = _builder()
    path = tmp_path_factory.mktemp("zipapp") / "edgeadm"
    builder.write_executable(path, builder.build_archive(REPO))
    return path


def _run(python: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def test_the_build_is_reproducible_and_its_metadata_fixed(archive: Path) -> None:
    builder = _builder()
    assert builder.build_archive(REPO) == archive.read_bytes()
    data = archive.read_bytes()
    assert data.startswith(b"#!/usr/bin/env python3\n")
    assert os.stat(archive).st_mode & 0o777 == 0o755
    with zipfile.ZipFile(archive) as zipped:
        infos = zipped.infolist()
        names = [info.filename for info in infos]
        assert names == sorted(names)
        assert "__main__.py" in names and "edge_installer/cli.py" in names and "edge_protocol/jws.py" in names
        assert not [name for name in names if "__pycache__" in name or not name.endswith(".py")]
        assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {info.external_attr >> 16 for info in infos} == {0o100644}


THIS = "{}.{}".format(*sys.version_info[:2])


@pytest.mark.parametrize("version", [v for v in ("3.8", "3.13") if v in PYTHONS and v != THIS])
def test_other_interpreters_build_the_same_bytes(archive: Path, version: str, tmp_path: Path) -> None:
    output = tmp_path / "edgeadm"
    result = _run(PYTHONS[version], str(REPO / "installer" / "build.py"), "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert hashlib.sha256(output.read_bytes()).hexdigest() == hashlib.sha256(archive.read_bytes()).hexdigest()


@pytest.mark.parametrize("version", SUPPORTED)
def test_it_runs_on_every_supported_cpython(archive: Path, version: str, tmp_path: Path) -> None:
    if version not in PYTHONS:
        pytest.skip(f"no CPython {version} on this machine")
    python = PYTHONS[version]
    helped = _run(python, str(archive), "join", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "preflight" in helped.stdout and "lite-apiserver" in helped.stdout
    assert _run(python, str(archive), "version").stdout.startswith("edgeadm v")
    # The whole join path up to the network, and reset, import and run on this interpreter.
    failed = _run(python, str(archive), "join", "127.0.0.1:1", "--token", "abcdef.0123456789abcdef",
                  "--discovery-token-ca-cert-hash", "sha256:" + "0" * 64, "--root", str(tmp_path),
                  "--skip-phases", "start")
    assert failed.returncode == 3
    assert "error: [preflight] cannot reach the API server at 127.0.0.1:1" in failed.stderr
    assert "Traceback" not in failed.stderr
    reset = _run(python, str(archive), "reset", "--root", str(tmp_path), "--force")
    assert reset.returncode == 0 and "nothing to reset" in reset.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("version", TOO_OLD)
def test_older_interpreters_get_one_line(archive: Path, version: str) -> None:
    if version not in PYTHONS:
        pytest.skip(f"no Python {version} on this machine")
    result = _run(PYTHONS[version], str(archive), "--help")
    assert result.returncode == 3
    assert result.stderr == f"edgeadm: error: Python 3.8+ is required (found {version})\n"
    assert result.stdout == ""


def test_the_installer_imports_only_the_standard_library(archive: Path) -> None:
    # -S: no site-packages, so any import of a third-party module would fail; every module is imported.
    modules = ["edge_installer"] + [m.name for m in pkgutil.walk_packages(
        [str(REPO / "installer" / "edge_installer")], "edge_installer.") if not m.name.endswith("__main__")]
    assert "edge_installer.phases.start" in modules
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n" \
           "print(sorted(m for m in sys.modules if m.split('.')[0] in ('kubectl_edge', 'yaml', 'cryptography')))"
    result = subprocess.run([sys.executable, "-S", "-c", code, *modules], capture_output=True, text=True, timeout=60,
                            env={"PYTHONPATH": str(archive), "PATH": os.environ.get("PATH", "")})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_help_imports_little(archive: Path) -> None:
    code = ("import runpy, sys\n"
            "sys.argv = ['edgeadm', '--help']\n"
            "try:\n"
            "    runpy.run_path(ARCHIVE, run_name='__main__')\n"
            "except SystemExit:\n"
            "    pass\n"
            "heavy = ('ssl', 'http.client', 'tarfile', 'edge_installer.discovery', 'edge_installer.package')\n"
            "sys.stderr.write(' '.join(m for m in heavy if m in sys.modules))\n").replace("ARCHIVE", repr(str(archive)))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, timeout=60)
    assert "usage: edgeadm" in result.stdout
    assert result.stderr == ""


def test_usage_errors_exit_2_with_a_hint(archive: Path) -> None:
    cases: list[list[str]] = [
        ["join", "203.0.113.10:6443", "--token", "abcdef.0123456789abcdef"],
        ["join", "203.0.113.10:6443", "--token", "nope", "--discovery-token-ca-cert-hash", "sha256:" + "0" * 64],
        ["join", "203.0.113.10:6443", "--token", "abcdef.0123456789abcdef", "--discovery-token-ca-cert-hash",
         "sha256:" + "0" * 64, "--skip-phases", "preflight,bogus"],
        ["join", "phase", "bogus", "203.0.113.10", "--token", "abcdef.0123456789abcdef"],
        ["join", "300.0.0.1:6443", "--token", "abcdef.0123456789abcdef", "--discovery-token-ca-cert-hash",
         "sha256:" + "0" * 64],
        ["frobnicate"],
    ]
    messages = set()
    for args in cases:
        result = _run(sys.executable, str(archive), *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "error: " in result.stderr and "Traceback" not in result.stderr
        messages.add(result.stderr.splitlines()[-1])
    assert len(messages) == len(cases)


def test_reset_asks_before_it_changes_anything(archive: Path, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(archive), "reset", "--root", str(tmp_path)], input="n\n",
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 130
    assert "Proceed? [y/N]" in result.stderr and "reset aborted; nothing was changed" in result.stderr


def test_the_installer_version_is_the_plugins() -> None:
    import edge_installer

    import kubectl_edge

    assert edge_installer.__version__ == kubectl_edge.__version__
