#!/usr/bin/env python3
"""A minimal ``systemctl`` for test nodes on machines that do not run systemd.

It understands what edgeadm asks of systemd for kubelet-style units, and nothing more:
``daemon-reload``, ``enable``/``disable`` (a link in /etc/systemd/system/multi-user.target.wants, as
systemd makes it, so it outlives a simulated reboot), ``start``/``stop``/``restart``, ``is-active``,
``is-enabled``, and ``boot`` (start every enabled unit, as a booting machine does).

A started unit gets a supervisor process that does what systemd does with the unit's ``[Service]`` lines: it
runs each ``ExecStartPre`` in order (a ``-`` prefix means its failure is ignored; any other failure fails the
start), then ``ExecStart`` with its ``Environment``/``EnvironmentFile`` lines and the drop-ins in
``<unit>.d/`` applied, and restarts it after ``RestartSec`` seconds as ``Restart=`` says (``always``,
``on-failure``, ``no``), running the ``ExecStartPre`` lines again first. Logs go to
``/run/mini-init/<unit>.log``. Units are read from /etc/systemd/system and /usr/lib/systemd/system as seen by
the caller (the node's mount namespace). Run-time state lives in /run/mini-init.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

#: Everything below is read and written under this directory (``/`` on a node; a scratch directory in tests).
ROOT = Path(os.environ.get("MINI_INIT_ROOT", "/"))
UNIT_DIRS = (ROOT / "etc/systemd/system", ROOT / "usr/lib/systemd/system", ROOT / "lib/systemd/system")
STATE = ROOT / "run/mini-init"
WANTS = ROOT / "etc/systemd/system/multi-user.target.wants"


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


def _expand(line: str, env: dict[str, str]) -> list[str]:
    argv: list[str] = []
    for word in shlex.split(line):
        if word.startswith("$"):
            argv.extend(env.get(word.strip("${}"), "").split())
        else:
            argv.append(word)
    return argv


@dataclass
class Service:
    """A unit's service lines as systemd would run them."""

    pre: list[tuple[bool, list[str]]]  # (failure ignored, argv) of each ExecStartPre
    argv: list[str]
    env: dict[str, str]
    restart: str
    restart_sec: float


def service(unit: str) -> Service:
    """Read the unit's service lines, with its environment expanded."""
    env: dict[str, str] = {}
    exec_start: list[str] = []
    pre: list[str] = []
    restart, restart_sec = "no", 0.1
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
            elif key == "ExecStartPre":
                if value.strip():
                    pre.append(value.strip())
                else:
                    pre = []
            elif key == "Restart":
                restart = value.strip()
            elif key == "RestartSec":
                restart_sec = float(value.strip().rstrip("s") or 0)
    if not exec_start:
        raise SystemExit(f"{unit} has no ExecStart")
    pre_commands = [(line.startswith("-"), _expand(line.lstrip("-"), env)) for line in pre]
    return Service(pre_commands, _expand(exec_start[0], env), env, restart, restart_sec)


def _log(unit: str, text: str) -> None:
    with open(STATE / f"{unit}.log", "a") as log:
        log.write(f"mini-init: {text}\n")


def _run_logged(unit: str, argv: list[str], env: dict[str, str]) -> int:
    with open(STATE / f"{unit}.log", "ab") as log:
        try:
            return subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                  check=False).returncode
        except OSError as exc:  # systemd's 203/EXEC
            _log(unit, f"cannot run {argv[0]}: {exc}")
            return 203


def supervise(unit: str) -> int:
    """Run the unit as systemd would, until stopped: ExecStartPre lines, ExecStart, restarts.

    As in systemd, a failed start (an ExecStartPre that may not fail) counts as a failure for ``Restart=``.
    """
    lines = service(unit)
    while True:
        env = {**os.environ, **lines.env}
        code = 0
        for ignore_failure, argv in lines.pre:
            pre_code = _run_logged(unit, argv, env)
            if pre_code != 0:
                _log(unit, f"ExecStartPre {' '.join(argv)} exited {pre_code}" + (" (ignored)" if ignore_failure
                                                                                  else ""))
                if not ignore_failure:
                    code = pre_code
                    break
        if code == 0:
            code = _run_logged(unit, lines.argv, env)
            _log(unit, f"main process exited {code}")
        if lines.restart == "always" or (lines.restart == "on-failure" and code != 0):
            time.sleep(lines.restart_sec)
            lines = service(unit)
            continue
        return code


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
    service(unit)  # a unit that cannot be read fails the start here, as systemctl's would
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / f"{unit}.log", "ab") as log:
        process = subprocess.Popen([sys.executable, __file__, "--supervise", unit], stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    (STATE / f"{unit}.pid").write_text(str(process.pid))


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(unit: str) -> None:
    """Stop the supervisor and everything it started (its process group), as systemd stops a unit's cgroup."""
    pid = _pid(unit)
    if pid is None:
        return
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while _group_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _group_alive(pid):
        os.killpg(pid, signal.SIGKILL)
        while _group_alive(pid) and time.monotonic() < deadline + 5:
            time.sleep(0.1)
    (STATE / f"{unit}.pid").unlink(missing_ok=True)


def _unit_path(unit: str) -> Path:
    for directory in UNIT_DIRS:
        if (directory / unit).is_file():
            return directory / unit
    raise SystemExit(f"Unit {unit} not found.")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--supervise"]:
        return supervise(argv[1])
    args = [a for a in argv if not a.startswith("-")]
    now = "--now" in argv
    if not args:
        return 0
    verb, units = args[0], [_unit_name(a) for a in args[1:]]
    STATE.mkdir(parents=True, exist_ok=True)
    if verb == "boot":
        for link in sorted(WANTS.glob("*.service")) if WANTS.is_dir() else []:
            start(link.name)
        return 0
    for unit in units:
        if verb == "enable":
            WANTS.mkdir(parents=True, exist_ok=True)
            link = WANTS / unit
            if not link.is_symlink():
                link.symlink_to(_unit_path(unit))
            if now:
                start(unit)
        elif verb == "disable":
            (WANTS / unit).unlink(missing_ok=True)
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
            enabled = (WANTS / unit).is_symlink()
            print("enabled" if enabled else "disabled")
            return 0 if enabled else 1
    return 0  # daemon-reload and anything else: nothing to do


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
