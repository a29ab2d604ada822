"""hack/mini_init.py, the systemctl of the simulated nodes: ExecStartPre, Restart=, enable/boot, stop."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

MINI_INIT = Path(__file__).resolve().parents[2] / "hack" / "mini_init.py"


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    yield tmp_path
    for unit in (tmp_path / "etc/systemd/system").glob("*.service"):
        systemctl(tmp_path, "stop", unit.name)


def systemctl(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(MINI_INIT), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MINI_INIT_ROOT": str(root)})


def write_unit(root: Path, name: str, service_lines: str) -> None:
    (root / "etc/systemd/system" / name).write_text(f"[Unit]\nDescription=test\n\n[Service]\n{service_lines}\n"
                                                    "[Install]\nWantedBy=multi-user.target\n")


def wait_for_lines(path: Path, count: int, timeout: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.05)
    return path.read_text().splitlines() if path.exists() else []


def test_exec_start_pre_runs_before_every_start_and_restart_always_restarts(root: Path) -> None:
    trace = root / "trace"
    write_unit(root, "flaky.service",
               "ExecStartPre=-/bin/false\n"
               f'ExecStartPre=/bin/sh -c "echo pre >> {trace}"\n'
               f'ExecStart=/bin/sh -c "echo run >> {trace}; exit 1"\n'
               "Restart=always\nRestartSec=0.1\n")
    assert systemctl(root, "start", "flaky").returncode == 0
    lines = wait_for_lines(trace, 6)
    assert lines[:6] == ["pre", "run"] * 3, "each restart runs ExecStartPre again, then ExecStart"
    log = (root / "run/mini-init/flaky.service.log").read_text()
    assert "ExecStartPre /bin/false exited 1 (ignored)" in log
    systemctl(root, "stop", "flaky")
    assert systemctl(root, "is-active", "flaky").stdout.strip() == "inactive"


def test_a_failing_exec_start_pre_without_a_dash_stops_the_start(root: Path) -> None:
    trace = root / "trace"
    write_unit(root, "broken.service", f'ExecStartPre=/bin/false\nExecStart=/bin/sh -c "echo run >> {trace}"\n')
    systemctl(root, "start", "broken")
    log = root / "run/mini-init/broken.service.log"
    assert wait_for_lines(log, 1) == ["mini-init: ExecStartPre /bin/false exited 1"]
    assert not trace.exists(), "ExecStart must not run after a failed ExecStartPre"


def test_without_restart_a_crashed_service_stays_down(root: Path) -> None:
    trace = root / "trace"
    write_unit(root, "once.service", f'ExecStart=/bin/sh -c "echo run >> {trace}; exit 3"\n')
    systemctl(root, "start", "once")
    log = root / "run/mini-init/once.service.log"
    assert wait_for_lines(log, 1) == ["mini-init: main process exited 3"]
    assert trace.read_text() == "run\n"


def test_enabled_units_start_at_boot_and_stop_takes_their_children(root: Path) -> None:
    write_unit(root, "sleeper.service", 'ExecStart=/bin/sh -c "sleep 300 & sleep 300"\nRestart=always\n')
    write_unit(root, "other.service", "ExecStart=/bin/sleep 300\n")
    assert systemctl(root, "enable", "sleeper").returncode == 0
    assert (root / "etc/systemd/system/multi-user.target.wants/sleeper.service").is_symlink()
    assert systemctl(root, "is-enabled", "sleeper").stdout.strip() == "enabled"
    assert systemctl(root, "is-enabled", "other").stdout.strip() == "disabled"
    systemctl(root, "boot")
    assert systemctl(root, "is-active", "sleeper").stdout.strip() == "active"
    assert systemctl(root, "is-active", "other").stdout.strip() == "inactive"
    supervisor = int((root / "run/mini-init/sleeper.service.pid").read_text())
    systemctl(root, "stop", "sleeper")
    with pytest.raises(ProcessLookupError):
        os.killpg(supervisor, 0)  # the supervisor, the shell and both sleeps are gone
    systemctl(root, "disable", "sleeper")
    assert not (root / "etc/systemd/system/multi-user.target.wants/sleeper.service").exists()
