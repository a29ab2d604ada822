"""Helpers for the distribution tests: one real ``hack/dist.py`` build shared by them, the cached binaries."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DIST_SCRIPT = REPO / "hack" / "dist.py"
sys.path.insert(0, str(REPO / "hack"))

import build_binaries  # noqa: E402
from clusterkit import required_binary_dir  # noqa: E402

_built: dict[str, Path] = {}


def run_dist(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run ``hack/dist.py --out OUT`` as ``make dist`` does (with this virtualenv's Python)."""
    env = {key: value for key, value in os.environ.items() if key != "SOURCE_DATE_EPOCH"}
    result = subprocess.run([sys.executable, str(DIST_SCRIPT), "--out", str(out), *extra], capture_output=True,
                            text=True, env=env, timeout=900)
    if result.returncode != 0:
        pytest.fail(f"hack/dist.py failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    return result


def built_dist(factory: pytest.TempPathFactory) -> Path:
    """The artefacts of one full build, made on first use and shared by every test of the session."""
    if "main" not in _built:
        out = factory.mktemp("dist-build") / "dist"
        run_dist(out)
        _built["main"] = out
    return _built["main"]


def binary_dir() -> Path:
    """The cached binaries (kubectl, helm, krew ...); skipped (failed in CI) when they are not built."""
    return required_binary_dir()


def sums(out: Path) -> dict[str, str]:
    """``SHA256SUMS`` of a build as {file name: sha256}."""
    entries = {}
    for line in (out / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        entries[name] = digest
    return entries


def one(out: Path, pattern: str) -> Path:
    """The single file in ``out`` matching ``pattern``."""
    matches = sorted(out.glob(pattern))
    assert len(matches) == 1, f"expected one {pattern} in {out}, found {[m.name for m in matches]}"
    return matches[0]
