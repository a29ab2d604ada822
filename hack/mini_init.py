#!/usr/bin/env python3
"""A minimal ``systemctl`` for test nodes on machines that do not run systemd.

It understands what edgeadm asks of systemd for kubelet-style units, and nothing more:
``daemon-reload``, ``enable``/``disable`` (remembered), ``start``/``stop``/``restart`` (a process started
from the unit's ``ExecStart`` with its ``Environment``/``EnvironmentFile`` lines, the drop-ins in
``<unit>.d/`` applied, logs in ``/run/mini-init/<unit>.log``), ``is-active``, ``is-enabled``. Units are read from
/etc/systemd/system and /usr/lib/systemd/system as seen by the caller (the node's mount namespace). State
lives in /run/mini-init.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

UNIT_DIRS = (Path("/etc/systemd/system"), Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))
STATE = Path("/run/mini-init")


def _unit_name(name: str) -> str:
    return name if "." in name else f"{name}.service"


def _unit_files(unit: str) -> list[Path]:
    files: list[Path] = []
    for directory in UNIT_DIRS:
        if (directory / unit).is_file():
            files.append(directory / unit)
            break
    for directory in reversed(UNIT_DIRS):
        dropins = directory / f"{unit}.d"
        if dropins.is_dir():
            files.extend(sorted(dropins.glob("*.conf")))
    if not files:
        raise SystemExit(f"Unit {unit} not found.")
    return files


def _environment_file(path: str, env: dict[str, str]) -> None:
    optional = path.startswith("-")
    file = Path(path.lstrip("-"))
    if not file.is_file():
        if optional:
            return
        raise SystemExit(f"EnvironmentFile {file} is missing")
    for line in file.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            env[key.strip()] = " ".join(shlex.split(value))


def command_line(unit: str) -> tuple[list[str], dict[str, str]]:
    """The unit's ExecStart with its environment expanded, as systemd would run it."""
    env: dict[str, str] = {}
    exec_start: list[str] = []
    for file in _unit_files(unit):
        for raw in file.read_text().splitlines():
            line = raw.strip()
            key, _, value = line.partition("=")
            if key == "Environment":
                for assignment in shlex.split(value):
                    name, _, text = assignment.partition("=")
                    env[name] = text
            elif key == "EnvironmentFile":
                _environment_file(value.strip(), env)
            elif key == "ExecStart":
                exec_start = [] if not value.strip() else [value.strip()]
    if not exec_start:
        raise SystemExit(f"{unit} has no ExecStart")
    argv: list[str] = []
    for word in shlex.split(exec_start[0]):
        if word.startswith("$"):
            argv.extend(env.get(word.strip("${}"), "").split())
        else:
            argv.append(word)
    return argv, env


def _pid(unit: str) -> int | None:
    try:
        pid = int((STATE / f"{unit}.pid").read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    stat = Path(f"/proc/{pid}/stat").read_text()
    return None if stat.rsplit(") ", 1)[1].startswith("Z") else pid


def start(unit: str) -> None:
    if _pid(unit):
        return
    argv, env = command_line(unit)
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / f"{unit}.log", "ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env={**os.environ, **env}, start_new_session=True)
    (STATE / f"{unit}.pid").write_text(str(process.pid))


def stop(unit: str) -> None:
    pid = _pid(unit)
    if pid is None:
        return
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while _pid(unit) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _pid(unit):
        os.killpg(pid, signal.SIGKILL)
    (STATE / f"{unit}.pid").unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("-")]
    now = "--now" in argv
    if not args:
        return 0
    verb, units = args[0], [_unit_name(a) for a in args[1:]]
    STATE.mkdir(parents=True, exist_ok=True)
    for unit in units:
        if verb == "enable":
            (STATE / f"{unit}.enabled").touch()
            if now:
                start(unit)
        elif verb == "disable":
            (STATE / f"{unit}.enabled").unlink(missing_ok=True)
            if now:
                stop(unit)
        elif verb == "start":
            start(unit)
        elif verb == "stop":
            stop(unit)
        elif verb == "restart":
            stop(unit)
            start(unit)
        elif verb == "is-active":
            active = _pid(unit) is not None
            print("active" if active else "inactive")
            return 0 if active else 3
        elif verb == "is-enabled":
            enabled = (STATE / f"{unit}.enabled").exists()
            print("enabled" if enabled else "disabled")
            return 0 if enabled else 1
    return 0  # daemon-reload and anything else: nothing to do


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
