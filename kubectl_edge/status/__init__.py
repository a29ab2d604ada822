"""``kubectl edge status``: the addon, its prerequisites, tokens and edge nodes at a glance, and what is wrong.

A layer of its own on top of the domain (it reads what ``addon``, ``bootstrap`` and ``node`` make):

- ``release``: the Helm release, read from helm's storage without helm (``kubectl_edge.addon.helm``);
- ``parts``: the release's workloads and the join prerequisites;
- ``nodes``: edge nodes, their heartbeats and kubelet versions; ``skew``: the kubelet version skew policy;
  ``kubelet_access``: whether the API server reaches their kubelets;
- ``report``: the whole report and its JSON; ``problems``: what is wrong and what to do about it (``common``
  holds the problem type);
- ``run``: the command, which reads all of the above.

Everything is read with paginated lists in small pages, and only a summary of each object is kept, so the
command stays fast and small on clusters with thousands of nodes. Edge nodes are fetched by label
(two disjoint selectors, so no node is fetched twice), never by listing every node.

The only writes are housekeeping shared with the token commands: tokens made for one node are deleted once
that node's client certificate was approved (``tokens.retire_node_tokens``).
"""
