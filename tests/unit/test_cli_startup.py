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


def _loaded_after(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    code = ("import sys, runpy; sys.argv = ['kubectl-edge', *sys.argv[1:]]\n"
            "try:\n    runpy.run_module('kubectl_edge', run_name='__main__')\n"
            "finally:\n    print('MODULES=' + ','.join(m for m in sys.modules"
            " if m.startswith('kubectl_edge.cli.commands.')), file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=ENV)
    line = next(line for line in result.stderr.splitlines() if line.startswith("MODULES="))
    names = {name.rsplit(".", 1)[1] for name in line.removeprefix("MODULES=").split(",") if name}
    return result, {name for name in names if not name.startswith("_")}  # _common: what every command shares


def test_root_help_lists_every_command_without_loading_any() -> None:
    from typer.main import get_command

    from kubectl_edge.cli.app import build_app

    result, loaded = _loaded_after("--help")
    assert result.returncode == 0
    assert loaded == set()
    full_tree = get_command(build_app(every_command=True))
    for name, command in full_tree.commands.items():  # type: ignore[attr-defined]
        assert f"  {name} " in result.stdout, name
        assert command.help.split(":")[0] in result.stdout


def test_only_the_invoked_command_is_loaded_and_it_is_the_real_one() -> None:
    result, loaded = _loaded_after("token", "create", "--help")
    assert result.returncode == 0, result.stderr
    assert "--print-join-command" in result.stdout
    assert loaded == {"token"}
    # Global flags before the command do not hide it.
    result, loaded = _loaded_after("--context", "elsewhere", "-v", "3", "node", "--help")
    assert result.returncode == 0, result.stderr
    assert "delete" in result.stdout
    assert loaded == {"node"}


def test_every_command_resolves_to_its_definition() -> None:
    from kubectl_edge.cli.app import COMMANDS

    for entry in COMMANDS:
        result, loaded = _loaded_after(entry.name, "--help")
        assert result.returncode == 0, (entry.name, result.stderr)
        assert "Usage: kubectl edge " + entry.name in result.stdout
        assert "Never runs" not in result.stdout
        assert loaded == {entry.module}
