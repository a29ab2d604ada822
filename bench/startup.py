#!/usr/bin/env python3
"""Cold start of ``kubectl edge --help`` and ``kubectl edge version`` beside ``kubectl version --client``.

Each command runs as a new process, several times, the commands taking turns; the medians and their
ratio to ``kubectl version --client`` are printed. Goal: ratio <= 2. ``kubectl edge version`` also runs
against a local cluster (it reads the kubeconfig, connects and GETs /version), and so does its like-for-like
peer ``kubectl version``; that ratio is printed too.
"""

from __future__ import annotations

import sys

import benchkit

RUNS = benchkit.runs(15)
GOAL = 2.0
PEER = "kubectl version --client"


def main() -> int:
    plugin = benchkit.plugin()
    kubectl = benchkit.binary("kubectl")
    with benchkit.local_cluster("startup") as cluster:
        env = benchkit.cluster_env(cluster)
        commands = {
            PEER: [kubectl, "version", "--client"],
            "kubectl version (local cluster)": [kubectl, "version"],
            "kubectl edge --help": [plugin, "--help"],
            "kubectl edge version --client": [plugin, "version", "--client"],
            "kubectl edge version (local cluster)": [plugin, "version"],
        }
        medians = benchkit.interleaved_medians(commands, RUNS, env)
    baseline = medians[PEER]
    server_peer = medians["kubectl version (local cluster)"]
    print(f"startup: {PEER:<38} median {benchkit.ms(baseline.wall)} (cpu {benchkit.ms(baseline.cpu)})  (peer)")
    print(f"startup: {'kubectl version (local cluster)':<38} median {benchkit.ms(server_peer.wall)} "
          f"(cpu {benchkit.ms(server_peer.cpu)})  (peer of the cluster row)")
    for label, sample in medians.items():
        if not label.startswith("kubectl edge"):
            continue
        ratio = sample.wall / baseline.wall
        line = (f"startup: {label:<38} median {benchkit.ms(sample.wall)} (cpu {benchkit.ms(sample.cpu)})  "
                f"ratio {ratio:5.2f}x (cpu {sample.cpu / baseline.cpu:4.2f}x)  goal <= {GOAL:.0f}x: "
                f"{benchkit.verdict(ratio, GOAL)}")
        if "cluster" in label:
            line += f"; {sample.wall / server_peer.wall:.2f}x kubectl version against the same cluster"
        print(line)
    print(f"startup: {RUNS} runs each, interleaved; load average {benchkit.load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
