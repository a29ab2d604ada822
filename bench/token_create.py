#!/usr/bin/env python3
"""``kubectl edge token create --print-join-command`` beside ``kubeadm token create --print-join-command``.

Both run against the same local kubeadm-flavoured cluster (after ``kubectl edge addon``, so the plugin knows
the controller manager signs), as new processes, interleaved, several times; the medians and their ratio are
printed. Goal: ratio <= 1.0. The plugin's line is checked (TCP, TLS, chain, SANs) and kubeadm's is not, and
``kubectl edge token --help`` is timed too: the floor of interpreter and CLI start-up under every command.

The write requests each command sends are counted in the API server's audit log by user agent (the minimum
is one: the token's Secret).
"""

from __future__ import annotations

import sys

import benchkit

RUNS = benchkit.runs(15)
GOAL = 1.0
PEER = "kubeadm token create --print-join-command"
PLUGIN = "kubectl edge token create --print-join-command"
FLOOR = "kubectl edge token --help (start-up floor)"
AGENTS = {PEER: "kubeadm/", PLUGIN: "kubectl-edge/"}


def count(value: float) -> str:
    """A per-run count: whole when it is."""
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"


def main() -> int:
    plugin = benchkit.plugin()
    with benchkit.local_cluster("token", flavour="kubeadm") as cluster:
        env = benchkit.cluster_env(cluster)
        benchkit.timed([plugin, "addon", "--skip-phases", "components"], env)
        commands = {
            PEER: [cluster.binary("kubeadm"), "token", "create", "--print-join-command",
                   "--kubeconfig", cluster.kubeconfig],
            PLUGIN: [plugin, "token", "create", "--print-join-command"],
            FLOOR: [plugin, "token", "--help"],
        }
        mark = benchkit.audit_mark(cluster)
        medians = benchkit.interleaved_medians(commands, RUNS, env)
        benchkit.settle_audit(cluster)
        # Every command ran RUNS times plus one warm-up.
        writes = {label: len(benchkit.persisted_writes(cluster, mark, [agent])) / (RUNS + 1)
                  for label, agent in AGENTS.items()}
    baseline = medians[PEER]
    print(f"token_create: {PEER:<46} median {benchkit.ms(baseline.wall)} (cpu {benchkit.ms(baseline.cpu)})  "
          f"{count(writes[PEER])} write(s) per run  (peer)")
    for label in (PLUGIN, FLOOR):
        sample = medians[label]
        ratio = sample.wall / baseline.wall
        figures = (f"token_create: {label:<46} median {benchkit.ms(sample.wall)} (cpu {benchkit.ms(sample.cpu)})  "
                   f"ratio {ratio:5.2f}x")
        if label == FLOOR:
            print(figures)
            continue
        print(f"{figures}  {count(writes[label])} write(s) per run; goal <= {GOAL:.1f}x: "
              f"{benchkit.verdict(ratio, GOAL)}, writes goal 1: {benchkit.verdict(writes[label], 1)}")
    print(f"token_create: {RUNS} runs each, interleaved; load average {benchkit.load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
