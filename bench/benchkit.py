"""What the benchmarks share: timing fresh processes, medians, verdicts, audit-log counts, the machine.

Every benchmark prints lines ``<bench>: <what> median ... ratio ...x  goal ...: meets|MISSES`` so that
``make bench`` reads as one table. Nothing here decides a pass or fail: the benchmarks print numbers.
"""

from __future__ import annotations

import compileall
import contextlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "hack"))
sys.path.insert(0, str(REPO / "tests"))
import build_binaries  # noqa: E402
import localcluster  # noqa: E402

#: Write verbs as the audit log names them.
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
# Review requests are creates that the API server answers without storing anything.
NON_PERSISTING = ("selfsubjectaccessreviews", "selfsubjectreviews", "selfsubjectrulesreviews",
                  "subjectaccessreviews", "tokenreviews")


def runs(default: int) -> int:
    """How many timed runs: ``BENCH_RUNS`` when set, else the benchmark's default."""
    return int(os.environ.get("BENCH_RUNS", str(default)))


def plugin() -> str:
    """The ``kubectl-edge`` console script of this interpreter's environment, its bytecode up to date.

    pip compiles an installed wheel's modules; the editable checkout's may be stale or missing (more so where
    ``PYTHONDONTWRITEBYTECODE`` is set), and compiling them at every start would be timed as start-up.
    """
    for package in ("kubectl_edge", "edge_protocol"):
        compileall.compile_dir(str(REPO / package), quiet=1)
    return shutil.which("kubectl-edge", path=str(Path(sys.executable).parent)) or "kubectl-edge"


def binary(name: str) -> str:
    """A binary from the cache hack/build_binaries.py fills (kubectl, kubeadm, helm3, ...)."""
    return str(build_binaries.binary_dir() / name)


@dataclass(frozen=True)
class Sample:
    """One run: wall time, and the CPU time (user + system) the process and its children used."""

    wall: float
    cpu: float


def measure(argv: Sequence[str], env: dict[str, str] | None = None) -> Sample:
    """One run of ``argv`` as a new process; exits with its stderr when it fails.

    The CPU time is the growth of this process's children's usage, so runs must not overlap.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(list(argv), capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample(elapsed, cpu)


def timed(argv: Sequence[str], env: dict[str, str] | None = None) -> float:
    """Wall time of one run of ``argv`` as a new process; exits with its stderr when it fails."""
    return measure(argv, env).wall


def interleaved_medians(commands: dict[str, Sequence[str]], count: int, env: dict[str, str] | None = None
                        ) -> dict[str, Sample]:
    """Median wall and CPU time of each command over ``count`` runs, after one warm-up run each.

    The commands take turns, so a drift of the machine's load hits all of them alike. The CPU time tells
    whether a slow wall time came from the command or from the machine's other work.
    """
    for argv in commands.values():
        measure(argv, env)  # page cache, Python bytecode, the API server's caches
    samples: dict[str, list[Sample]] = {label: [] for label in commands}
    for _ in range(count):
        for label, argv in commands.items():
            samples[label].append(measure(argv, env))
    return {label: Sample(statistics.median(s.wall for s in values), statistics.median(s.cpu for s in values))
            for label, values in samples.items()}


def verdict(value: float, goal: float) -> str:
    """``meets`` when value <= goal, else ``MISSES``."""
    return "meets" if value <= goal else "MISSES"


def ms(seconds: float) -> str:
    """Seconds as milliseconds, right-aligned for the tables."""
    return f"{seconds * 1000:7.1f} ms"


def machine() -> str:
    """The machine the figures come from: CPU model, cores, memory, kernel, Python."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.0f} GiB"
                break
    return (f"{model}, {os.cpu_count()} cores{memory}, Linux {platform.release()}, "
            f"Python {platform.python_version()}")


def load_average() -> str:
    """The 1-minute load average: the other work the machine was doing."""
    with contextlib.suppress(OSError):
        return f"{os.getloadavg()[0]:.2f}"
    return "?"


# --- the audit log ----------------------------------------------------------------------------------------

def audit_mark(cluster: localcluster.LocalCluster) -> int:
    """The number of audit events so far (pass it to ``persisted_writes``)."""
    path = Path(cluster.audit_log)
    return len(path.read_text().splitlines()) if path.exists() else 0


def persisted_writes(cluster: localcluster.LocalCluster, since: int, agent_prefixes: Sequence[str]
                     ) -> list[dict[str, object]]:
    """Audited write requests after ``since`` by user agents starting with one of the prefixes.

    Reviews (SelfSubjectAccessReview and the like) are left out: the API server stores nothing for them.
    """
    events = []
    for line in Path(cluster.audit_log).read_text().splitlines()[since:]:
        event = json.loads(line)
        resource = (event.get("objectRef") or {}).get("resource", "")
        if (event.get("verb") in WRITE_VERBS and resource not in NON_PERSISTING
                and str(event.get("userAgent", "")).startswith(tuple(agent_prefixes))):
            events.append(event)
    return events


def settle_audit(cluster: localcluster.LocalCluster, quiet: float = 0.3, limit: float = 5.0) -> None:
    """Wait until the audit log stops growing: events of a finished command may still be on their way."""
    deadline = time.monotonic() + limit
    size = -1
    while time.monotonic() < deadline:
        current = Path(cluster.audit_log).stat().st_size
        if current == size:
            return
        size = current
        time.sleep(quiet)


# --- local clusters ---------------------------------------------------------------------------------------

@contextlib.contextmanager
def local_cluster(name: str, flavour: str = "bare", signer: bool = True) -> Iterator[localcluster.LocalCluster]:
    """A fresh local cluster in a scratch directory, stopped and removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix=f"kubectl-edge-bench-{name}-"))
    try:
        cluster = localcluster.start(root / "cluster", flavour=flavour, signer=signer,
                                     bin_dir=build_binaries.binary_dir())
        try:
            yield cluster
        finally:
            localcluster.stop(root / "cluster")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def cluster_env(cluster: localcluster.LocalCluster) -> dict[str, str]:
    """The environment a user would have: KUBECONFIG, no colour, helm 3 as ``helm`` and kubectl on PATH."""
    return {**cluster.env(), "NO_COLOR": "1"}


def median(values: Sequence[float]) -> float:
    """The median (a shorthand, so the benchmarks read alike)."""
    return statistics.median(values)
