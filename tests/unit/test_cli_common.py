"""What the commands share (cli/commands/_common.py): parameter errors keep their hint, tables, atomic writes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import typer

from edge_protocol import token as bootstrap_token
from edge_protocol.errors import DurationError, ProtocolError
from kubectl_edge.addon import values as chart_values
from kubectl_edge.bootstrap.tokens import TokenSpec, parse_token_ids
from kubectl_edge.cli import jsonpath
from kubectl_edge.cli.commands._common import checked, duration, group, table, usage_error, write_atomically
from kubectl_edge.errors import ConfigError

# No kubeconfig anywhere: a command that reached the cluster would fail with "no kubeconfig" (exit 1).
ENV = {**os.environ, "NO_COLOR": "1", "KUBECONFIG": "", "HOME": "/nonexistent-home"}
DAYS_HINT = "days are not a unit: use hours, e.g. 168h for a week"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubectl_edge", *args], capture_output=True, text=True, env=ENV,
                          timeout=60)


@pytest.mark.parametrize("args", [
    ["node", "delete", "edge-1", "--timeout", "7d"],
    ["token", "create", "--ttl", "7d"],
    ["addon", "--timeout", "7d"],
    ["detach", "--timeout", "7d"],
])
def test_a_bad_duration_is_a_usage_error_with_its_hint_before_the_cluster_is_asked(args: list[str]) -> None:
    result = _run(*args)
    assert result.returncode == 2, result.stderr
    flag = args[args.index("7d") - 1]
    assert f"Invalid value for {flag}: invalid duration '7d': unknown unit 'd' ({DAYS_HINT})" in result.stderr
    assert "kubeconfig" not in result.stderr
    assert result.stdout == ""


def _error_of(call: Callable[[], object]) -> ProtocolError | ConfigError:
    try:
        call()
    except (ProtocolError, ConfigError) as exc:
        return exc
    raise AssertionError("the input was accepted")


@pytest.mark.parametrize(("args", "param", "same_input"), [
    (["token", "create", "not-a-token"], "TOKEN", lambda: bootstrap_token.parse_token("not-a-token")),
    (["token", "create", "--for-node", "Not_A_Node"], "--for-node", lambda: TokenSpec().made_for_node("Not_A_Node")),
    (["token", "delete", "NOPE"], "ID|TOKEN", lambda: parse_token_ids(["NOPE"])),
    (["token", "list", "-o", "jsonpath={.token"], "-o", lambda: jsonpath.render("{.token", {})),
    (["addon", "--edge-version", "not a version"], "--edge-version",
     lambda: chart_values.edge_version_tag("not a version")),
])
def test_other_parameter_errors_keep_their_hint(args: list[str], param: str,
                                                same_input: Callable[[], object]) -> None:
    expected = _error_of(same_input)
    assert expected.hint
    result = _run(*args)
    assert result.returncode == 2, result.stderr
    assert f"Invalid value for {param}: {expected.message} ({expected.hint})" in " ".join(result.stderr.split())
    assert "kubeconfig" not in result.stderr


def test_usage_error_and_checked() -> None:
    error = usage_error("--ttl", DurationError("invalid duration 'x'", "write 24h"))
    assert isinstance(error, typer.BadParameter)
    assert error.message == "invalid duration 'x' (write 24h)"
    assert error.param_hint == "--ttl"
    assert usage_error("-o", ConfigError("bad")).message == "bad"
    assert checked("-o", int, "7") == 7
    with pytest.raises(typer.BadParameter, match=r"unknown unit 'd' \(days are not a unit"):
        duration("--timeout", "7d")
    assert duration("--timeout", "1h30m") == 5400.0
    assert duration("--ttl", "0") == 0.0


def test_group_takes_short_help_and_shows_help_without_a_sub_command() -> None:
    app = group("thing", "kubectl edge thing: does things.")

    @app.command("do")
    def do() -> None:
        """Do it."""

    @app.command("undo")
    def undo() -> None:
        """Undo it."""

    from typer.testing import CliRunner

    for args, code in (([], 2), (["-h"], 0)):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == code
        assert "kubectl edge thing: does things." in result.output
        assert "Do it." in result.output and "Undo it." in result.output


def test_table_pads_as_kubectl_does() -> None:
    rows = [["ID", "TTL", "DESCRIPTION"], ["abcdef", "23h", ""], ["x", "<forever>", "long text"]]
    assert table(rows) == ["ID       TTL         DESCRIPTION",
                           "abcdef   23h",
                           "x        <forever>   long text"]
    assert table(rows[:1], "  ") == ["  ID   TTL   DESCRIPTION"]


def test_write_atomically_replaces_in_one_step(tmp_path: Path) -> None:
    target = tmp_path / "edgeadm"
    target.write_text("old")

    def stage(path: Path) -> None:
        assert path.parent != tmp_path and path.parent.parent == tmp_path  # beside it, not over it
        assert target.read_text() == "old"  # the old file stays until the new one is complete
        path.write_text("new")
        path.chmod(0o755)

    write_atomically(target, stage, "pass -o with a writable path")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edgeadm"]


def test_write_atomically_leaves_what_was_there_when_it_fails(tmp_path: Path) -> None:
    target = tmp_path / "edgeadm"
    target.write_text("old")

    def stage(path: Path) -> None:
        path.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(ConfigError) as caught:
        write_atomically(target, stage, "pass -o with a writable path")
    assert caught.value.message == f"cannot write {target}: No space left on device"
    assert caught.value.hint == "pass -o with a writable path"
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edgeadm"]


def test_write_atomically_into_a_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    def stage(path: Path) -> None:
        path.write_text("x")

    with pytest.raises(ConfigError, match=r"cannot write .*: No such file or directory"):
        write_atomically(tmp_path / "missing" / "edgeadm", stage, "hint")
    assert list(tmp_path.iterdir()) == []
