#!/usr/bin/env python3
"""``kubectl edge addon`` on a bare local cluster: the first run and the runs after it.

Each of a few fresh bare clusters gets ``kubectl edge addon`` (every phase, the components through helm 3,
found on PATH as ``helm``), then the same command again several times. Wall times are medians; the write
requests come from the API server's audit log, by user agent (``kubectl-edge/`` and the helm it runs,
``Helm/``): all write requests sent, and those that changed something (answered below 400; helm's creates of
the CRDs that addon made first answer 409). Goal: the second run sends no write request.

The peer is what helm alone does when asked again: ``helm upgrade`` of the same release with the same chart
and values (``--reuse-values``), timed and counted once per cluster after the runs above.
"""

from __future__ import annotations

import os
import sys

import benchkit

CLUSTERS = int(os.environ.get("BENCH_ADDON_CLUSTERS", "3"))
AGAIN = benchkit.runs(3)
AGENTS = ("kubectl-edge/", "Helm/")
CHART = benchkit.REPO / "helm" / "superedge-addon"


def _writes(cluster: benchkit.localcluster.LocalCluster, mark: int) -> tuple[int, int, dict[str, int]]:
    """(write requests, those answered below 400, per user agent) since the mark."""
    benchkit.settle_audit(cluster)
    events = benchkit.persisted_writes(cluster, mark, AGENTS)
    changed = [e for e in events if int((e.get("responseStatus") or {}).get("code", 0)) < 400]  # type: ignore[union-attr]
    by_agent = {agent.rstrip("/"): sum(1 for e in events if str(e.get("userAgent", "")).startswith(agent))
                for agent in AGENTS}
    return len(events), len(changed), by_agent


def main() -> int:
    plugin = benchkit.plugin()
    first: list[float] = []
    again: list[float] = []
    helm_again: list[float] = []
    first_writes: list[tuple[int, int, dict[str, int]]] = []
    again_writes: list[int] = []
    helm_writes: list[int] = []
    for index in range(CLUSTERS):
        with benchkit.local_cluster(f"addon{index}") as cluster:
            env = benchkit.cluster_env(cluster)
            mark = benchkit.audit_mark(cluster)
            first.append(benchkit.timed([plugin, "addon"], env))
            first_writes.append(_writes(cluster, mark))
            for _ in range(AGAIN):
                mark = benchkit.audit_mark(cluster)
                again.append(benchkit.timed([plugin, "addon"], env))
                again_writes.append(_writes(cluster, mark)[0])
            mark = benchkit.audit_mark(cluster)
            helm_again.append(benchkit.timed(["helm", "upgrade", "superedge-addon", str(CHART), "-n", "edge-system",
                                              "--reuse-values"], env))
            helm_writes.append(_writes(cluster, mark)[0])
    sent = benchkit.median([w[0] for w in first_writes])
    changed = benchkit.median([w[1] for w in first_writes])
    plugin_part = benchkit.median([w[2]["kubectl-edge"] for w in first_writes])
    helm_part = benchkit.median([w[2]["Helm"] for w in first_writes])
    peer = benchkit.median(helm_again)
    print(f"addon: first run  kubectl edge addon (bare cluster)      median {benchkit.ms(benchkit.median(first))}  "
          f"{sent:.0f} write requests ({plugin_part:.0f} kubectl-edge, {helm_part:.0f} Helm), {changed:.0f} answered "
          f"< 400")
    print(f"addon: peer       helm upgrade --reuse-values (same release) median {benchkit.ms(peer)}  "
          f"{benchkit.median(helm_writes):.0f} write requests  (peer of the second run)")
    second = benchkit.median(again)
    worst = max(again_writes)
    print(f"addon: second run kubectl edge addon (nothing to do)     median {benchkit.ms(second)}  "
          f"{worst} write requests (max over {len(again_writes)} runs)  ratio {second / peer:5.2f}x to the peer  "
          f"goal 0 writes: {benchkit.verdict(worst, 0)}")
    print(f"addon: {CLUSTERS} fresh bare clusters, {AGAIN} repeated runs each; load average {benchkit.load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
