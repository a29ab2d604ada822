"""The CLI's start-up path stays light and its failures follow the error funnel."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ENV = {**os.environ, "NO_COLOR": "1", "KUBECONFIG": "", "HOME": "/nonexistent-home"}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    code = ("import sys, runpy; sys.argv = ['kubectl-edge', *sys.argv[1:]]\n"
            "try:\n    runpy.run_module('kubectl_edge', run_name='__main__')\n"
            "finally:\n    print('LOADED=' + ','.join(m for m in ('kubernetes', 'yaml', 'cryptography')"
            " if m in sys.modules), file=sys.stderr)\n")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=ENV)


def test_help_does_not_import_heavy_modules() -> None:
    result = _run("--help")
    assert result.returncode == 0
    assert "kubectl edge" in result.stdout
    assert "LOADED=\n" in result.stderr


def test_version_client_only_is_offline_json() -> None:
    result = _run("version", "--client", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["clientVersion"]["gitVersion"].startswith("v")
    assert "LOADED=\n" in result.stderr


def test_no_kubeconfig_is_a_one_line_error_with_a_hint() -> None:
    result = _run("version")
    assert result.returncode == 1
    assert result.stdout.startswith("Client Version: v")
    assert "error: no kubeconfig" in result.stderr
    assert "hint: pass --kubeconfig" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_command_is_a_usage_error() -> None:
    result = _run("frobnicate")
    assert result.returncode == 2
    assert result.stdout == ""
