"""``kubectl_complete-edge``: candidates from the command tree in kubectl's plugin-completion protocol, and
``kubectl edge completion install``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from distkit import binary_dir

from kubectl_edge.cli.commands.completion import complete

ENV = {**os.environ, "NO_COLOR": "1", "KUBECONFIG": ""}
HELPER_CODE = ("import sys\n"
               "from kubectl_edge.cli.commands import completion\n"
               "try:\n    completion.main()\n"
               "finally:\n    print('LOADED=' + ','.join(m for m in ('kubernetes', 'yaml', 'cryptography')"
               " if m in sys.modules), file=sys.stderr)\n")


def _values(words: list[str]) -> list[str]:
    return [candidate.split("\t")[0] for candidate in complete(words).candidates]


def _command_names(*path: str) -> set[str]:
    """The visible sub-commands of the group at ``path`` (the top level when empty), from the CLI itself."""
    from typer.main import get_command

    from kubectl_edge.cli.app import build_app

    group = get_command(build_app(every_command=True))
    for name in path:
        group = group.commands[name]  # type: ignore[attr-defined]
    return {name for name, command in group.commands.items() if not command.hidden}  # type: ignore[attr-defined]


def test_top_level_offers_every_command_and_no_files() -> None:
    result = complete([""])
    assert {value.split("\t")[0] for value in result.candidates} == _command_names()
    assert result.directive == 4
    assert all("\t" in candidate for candidate in result.candidates), "each command has a description"


def test_prefixes_sub_commands_and_global_flags_anywhere() -> None:
    assert _values(["tok"]) == ["token"]
    assert set(_values(["token", ""])) == _command_names("token") >= {"create", "list", "delete", "generate"}
    # Global flags and their values are skipped wherever they stand.
    assert _values(["-n", "kube-system", "--context=prod", "tok"]) == ["token"]
    assert _values(["token", "--kubeconfig", "/tmp/k", "cr"]) == ["create"]


def test_flags_of_the_command_and_kubectls_global_flags() -> None:
    assert _values(["token", "create", "--for"]) == ["--for-node"]
    flags = set(_values(["version", "-"]))
    assert {"--client", "-o", "--output", "--kubeconfig", "--context", "-n", "--help"} <= flags
    assert "--for-node" not in flags


def test_option_values() -> None:
    choices = complete(["version", "-o", ""])
    assert set(choices.candidates) == {"text", "json", "yaml"}
    assert choices.directive == 4
    assert _values(["version", "-o", "y"]) == ["yaml"]
    assert _values(["version", "--output=j"]) == ["--output=json"]
    # A file value is left to the shell; a directory value to its directory completion.
    assert complete(["--kubeconfig", ""]).directive == 0
    assert complete(["addon", "--ca-cert", ""]).directive == 0
    assert complete(["addon", "--chart", ""]).directive == 16
    # A value that is neither gets no file names.
    nothing = complete(["token", "create", "--ttl", ""])
    assert nothing.candidates == () and nothing.directive == 4


def test_positional_literal_word() -> None:
    assert _values(["addon", ""]) == ["edge-apps"]
    assert _values(["addon", "edge-apps", ""]) == []


def test_helper_speaks_the_protocol_and_stays_light() -> None:
    result = subprocess.run([sys.executable, "-c", HELPER_CODE, "token", ""], capture_output=True, text=True,
                            env=ENV, timeout=60)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[-1] == ":4"
    assert {line.split("\t")[0] for line in lines[:-1]} == _command_names("token")
    assert "LOADED=\n" in result.stderr


def _install(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubectl_edge", "completion", "install", "--dir", str(directory)],
                          capture_output=True, text=True, env=ENV, timeout=60)


def test_completion_install_writes_a_working_helper_and_is_idempotent(tmp_path: Path) -> None:
    first = _install(tmp_path)
    assert first.returncode == 0, first.stderr
    helper = tmp_path / "kubectl_complete-edge"
    assert os.access(helper, os.X_OK)
    assert "not on PATH" in first.stderr
    run = subprocess.run([str(helper), "tok"], capture_output=True, text=True, env=ENV, timeout=60)
    assert run.stdout.splitlines()[-1] == ":4"
    assert run.stdout.splitlines()[0].split("\t")[0] == "token"
    again = _install(tmp_path)
    assert again.returncode == 0, again.stderr


def test_completion_install_leaves_a_foreign_file_alone(tmp_path: Path) -> None:
    foreign = tmp_path / "kubectl_complete-edge"
    foreign.write_text("#!/bin/sh\necho someone else's\n")
    result = _install(tmp_path)
    assert result.returncode == 3
    assert "is not kubectl-edge's completion helper" in result.stderr
    assert "hint:" in result.stderr
    assert foreign.read_text() == "#!/bin/sh\necho someone else's\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["kubectl_complete-edge"]


@pytest.mark.integration
def test_real_kubectl_runs_the_helper(tmp_path: Path) -> None:
    kubectl = binary_dir() / "kubectl"
    bin_dir = tmp_path / "bin"
    (bin_dir).mkdir()
    assert _install(bin_dir).returncode == 0
    (bin_dir / "kubectl-edge").symlink_to(Path(sys.executable).parent / "kubectl-edge")
    env = {**ENV, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    result = subprocess.run([str(kubectl), "__complete", "edge", "token", "list", "-o", ""], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == ":4"
    assert set(lines[:-1]) == {"text", "wide", "json", "yaml"}
