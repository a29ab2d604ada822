"""The error funnel: -v decides whether an unexpected error shows its traceback, and the hint says so truly.

The unexpected error is a real one: the write-counting fault hook of the interruption tests
(KUBECTL_EDGE_FAULT_KILL_AFTER_WRITES) given a value that is not a number makes opening the cluster raise a
ValueError, which no code turns into a user error. Opening needs a kubeconfig but no answer from a server.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kubectl_edge.cli.errors import run_guarded

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster: {server: "https://127.0.0.1:9", insecure-skip-tls-verify: true}
users:
- name: someone
  user: {token: not-a-secret}
contexts:
- name: nowhere
  context: {cluster: nowhere, user: someone}
current-context: nowhere
"""


def _run(tmp_path: Path, *args: str, fault: str | None = "not-a-number") -> subprocess.CompletedProcess[str]:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    env = {**os.environ, "NO_COLOR": "1", "KUBECONFIG": str(kubeconfig), "HOME": "/nonexistent-home"}
    env.pop("KUBECTL_EDGE_FAULT_KILL_AFTER_WRITES", None)
    if fault is not None:
        env["KUBECTL_EDGE_FAULT_KILL_AFTER_WRITES"] = fault
    return subprocess.run([sys.executable, "-m", "kubectl_edge", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def test_without_v_an_unexpected_error_is_one_line_and_a_hint(tmp_path: Path) -> None:
    result = _run(tmp_path, "token", "list")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: unexpected ValueError: invalid literal for int() with base 10: 'not-a-number'",
        "hint: re-run with -v=4 for the traceback",
    ]


@pytest.mark.parametrize("where", ["end", "start"])
def test_the_hint_is_true_its_flag_shows_the_traceback(tmp_path: Path, where: str) -> None:
    hint = _run(tmp_path, "token", "list").stderr.splitlines()[-1]
    flag = re.fullmatch(r"hint: re-run with (-v=\d+) for the traceback", hint)
    assert flag is not None, hint
    args = ["token", "list", flag.group(1)] if where == "end" else [flag.group(1), "token", "list"]
    result = _run(tmp_path, *args)
    assert result.returncode == 1
    stderr = result.stderr
    assert "Traceback (most recent call last):" in stderr
    # The traceback is the error's own: it ends in the frame that raised, then the exception line.
    after = stderr.partition("Traceback (most recent call last):")[2]
    assert "kubectl_edge/cli/commands/token.py" in after
    assert "ValueError: invalid literal for int() with base 10: 'not-a-number'\n" in after
    assert after.rstrip().endswith("error: unexpected ValueError: invalid literal for int() with base 10: "
                                   "'not-a-number'")
    assert "re-run with" not in stderr  # the traceback is shown; no advice to ask for it again


def test_below_4_no_traceback(tmp_path: Path) -> None:
    result = _run(tmp_path, "token", "list", "-v=3")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "hint: re-run with -v=4 for the traceback" in result.stderr


def test_v4_shows_the_traceback_of_a_user_error_too(tmp_path: Path) -> None:
    # The cluster does not answer: a ClusterUnreachable, a user error, with its own hint.
    plain = _run(tmp_path, "token", "list", "--request-timeout=5s", fault=None)
    verbose = _run(tmp_path, "token", "list", "--request-timeout=5s", "--v", "4", fault=None)
    assert plain.returncode == verbose.returncode == 1
    assert "Traceback" not in plain.stderr
    assert "Traceback (most recent call last):" in verbose.stderr
    error_lines = [line for line in plain.stderr.splitlines() if line.startswith(("error:", "hint:"))]
    assert error_lines and error_lines[0].startswith("error: ")
    assert verbose.stderr.splitlines()[-len(error_lines):] == error_lines


@pytest.mark.parametrize(("args", "message"), [
    (["-v=4", "token", "list", "--context"], "error: flag --context needs a value"),
    (["token", "list", "-v=4", "-v", "loud"], "error: invalid -v value 'loud'"),
    (["-v=4", "--request-timeout", "soon", "token", "list"], "error: --request-timeout: invalid duration 'soon'"),
])
def test_when_the_flags_themselves_are_wrong_the_funnel_still_reports(tmp_path: Path, args: list[str],
                                                                      message: str) -> None:
    result = _run(tmp_path, *args)
    assert result.returncode == 1
    assert result.stderr.startswith(message)
    assert "hint: " in result.stderr
    assert "unexpected" not in result.stderr
    assert "Traceback" not in result.stderr  # -v was not parsed: the level stays 0


def test_the_level_is_read_after_the_function_ran(capsys: pytest.CaptureFixture[str]) -> None:
    level = {"v": 0}

    def command() -> None:
        level["v"] = 4  # as the root does: the flags are parsed inside the guarded function
        raise RuntimeError("boom")

    assert run_guarded(command, lambda: level["v"]) == 1
    stderr = capsys.readouterr().err
    assert "Traceback (most recent call last):" in stderr
    assert stderr.endswith("RuntimeError: boom\nerror: unexpected RuntimeError: boom\n")
