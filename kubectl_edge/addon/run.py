"""``kubectl edge addon``: the phase runner (preflight, prerequisites, components).

Everything is read and planned first; when the plan changes nothing and preflight's findings are
remembered, the run ends without a single write. Otherwise the inventory records each change before it is
made, so an interrupted run is resumed by running addon again, or undone by detach.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from kubectl_edge.addon import adopt, adopt_material, chart
from kubectl_edge.addon import components as components_phase
from kubectl_edge.addon.changes import Action, Verb, plan_object
from kubectl_edge.addon.facts import AddonInputs, gather
from kubectl_edge.addon.helm import release_deployed
from kubectl_edge.addon.kubeadm_pki import default_ca_files
from kubectl_edge.addon.preflight import (
    CLUSTER_INFO,
    Findings,
    Probe,
    check_anonymous,
    check_permissions,
    remove_probes,
)
from kubectl_edge.addon.prerequisites import desired_prerequisites
from kubectl_edge.addon.recognition import cluster_info_server, recognise
from kubectl_edge.cluster.ca import read_ca
from kubectl_edge.cluster.client import Cluster
from kubectl_edge.cluster.kinds import ObjectRef
from kubectl_edge.errors import AlreadyExists, ConfigError, Conflict, Forbidden, Invalid, PreconditionFailed
from kubectl_edge.notify import Notify
from kubectl_edge.record import MANAGED_BY, STATE_REF, CreatedObject, PatchRecord, State, load_state

log = logging.getLogger(__name__)
PHASES = ("preflight", "prerequisites", "components")
#: The past tense of each verb, as the progress lines print it.
PAST_TENSE: dict[Verb, str] = {Verb.create: "created", Verb.patch: "patched", Verb.keep: "kept"}


def progress_line(action: Action) -> str:
    """The progress line of a change that was made (or, for keep, of an object left as it is)."""
    line = f"{PAST_TENSE[action.verb]} {action.ref}"
    return f"{line}: {action.note}" if action.verb is not Verb.create else line


@dataclass(frozen=True)
class AddonOptions:
    """Flags of ``kubectl edge addon``."""

    inputs: AddonInputs = field(default_factory=AddonInputs)
    skip_phases: frozenset[str] = frozenset()
    dry_run: bool = False
    reprobe: bool = False
    #: undo edgeadm's rewrites where the original is known (adopt.py)
    repair: bool = False
    components: components_phase.ComponentsOptions = field(default_factory=components_phase.ComponentsOptions)


@dataclass
class AddonReport:
    """What addon found and did (or, with --dry-run, would do)."""

    dry_run: bool
    findings: Findings | None = None
    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    writes: int = 0
    helm_values: dict[str, Any] | None = None
    rendered: str | None = None
    #: what adoption and --repair change in objects SuperEdge's edgeadm made (originals saved first)
    edits: list[adopt.Edit] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary for ``-o json|yaml`` (helm values and rendered objects in a dry run only)."""
        extra: dict[str, Any] = {}
        if self.dry_run and self.helm_values is not None:
            extra["helmValues"] = self.helm_values
        if self.rendered is not None:
            extra["rendered"] = self.rendered
        return {
            "dryRun": self.dry_run,
            "preflight": self.findings.to_json() if self.findings else None,
            "objects": [{"action": a.verb.value, "kind": a.ref.kind.kind, "namespace": a.ref.namespace,
                         "name": a.ref.name, "note": a.note, **({"patch": a.forward} if a.forward else {})}
                        for a in self.actions],
            "adoption": [{"action": e.how, "kind": e.ref.kind.kind, "namespace": e.ref.namespace, "name": e.ref.name,
                          "note": e.note} for e in self.edits],
            "notes": self.notes,
            "writeRequests": self.writes,
            **extra,
        }


def validate_phases(skip: frozenset[str]) -> None:
    """Refuse unknown phase names in --skip-phases."""
    unknown = sorted(skip - set(PHASES))
    if unknown:
        raise ConfigError(f"unknown phase(s) in --skip-phases: {', '.join(unknown)}",
                          f"the phases are: {', '.join(PHASES)}")


def save_state(cluster: Cluster, state: State) -> None:
    """Write the state ConfigMap (create it, or update it guarded by the version it was read at)."""
    body = state.to_body()
    if state.resource_version is None:
        try:
            saved = cluster.create(body)
        except AlreadyExists as exc:
            raise Conflict(f"{STATE_REF} appeared while addon ran", "another kubectl edge addon may be running; "
                           "wait for it and run addon again") from exc
    else:
        try:
            saved = cluster.replace(body)
        except Conflict as exc:
            raise Conflict(f"{STATE_REF} changed while addon ran", "another kubectl edge addon or detach may be "
                           "running; wait for it and run addon again") from exc
    state.resource_version = saved["metadata"]["resourceVersion"]


def _apply(cluster: Cluster, action: Action) -> str | None:
    """Make one planned change; return the created object's uid (None for patches)."""
    if action.verb is Verb.create:
        assert action.body is not None
        try:
            return str(cluster.create(action.body)["metadata"]["uid"])
        except AlreadyExists:
            return None  # made by someone else since the plan; the uid pass below sorts out whose it is
    try:
        cluster.json_patch(action.ref, action.forward)
    except (Invalid, Conflict) as exc:
        raise Conflict(f"{action.ref} changed while addon ran, so the patch was not applied ({exc.message})",
                       "run kubectl edge addon again; it plans from the current state") from exc
    return None


def _record_uids(cluster: Cluster, state: State, uids: dict[ObjectRef, str]) -> None:
    """Fill in uids; drop entries for objects that do not exist or that someone else made."""
    kept = []
    for entry in state.created:
        if entry.ref in uids:
            entry.uid = uids[entry.ref]
        else:
            live = cluster.get(entry.ref)
            labels = ((live or {}).get("metadata") or {}).get("labels") or {}
            if live is None or any(labels.get(k) != v for k, v in MANAGED_BY.items()):
                continue
            entry.uid = live["metadata"]["uid"]
        kept.append(entry)
    state.created = kept


def run_addon(cluster: Cluster, options: AddonOptions, notify: Notify) -> AddonReport:
    """Run the phases that are not skipped; return what was found and done."""
    validate_phases(options.skip_phases)
    report = AddonReport(dry_run=options.dry_run)
    run_preflight = "preflight" not in options.skip_phases
    run_prerequisites = "prerequisites" not in options.skip_phases
    run_components = "components" not in options.skip_phases
    components_plan: components_phase.ComponentsPlan | None = None
    try:
        state = load_state(cluster)
        public_address = options.inputs.public_address or state.settings.get("publicAddress")
        # SuperEdge's default: kubeadm's CA files on a control-plane node, when they are this cluster's CA.
        ca_pem = read_ca(cluster.resolved, options.inputs.ca_cert_file).pem
        ca_files = default_ca_files(ca_pem, options.inputs.ca_cert_file, options.inputs.ca_key_file)
        inputs = AddonInputs(public_address, ca_files.ca_cert_file, ca_files.ca_key_file)
        # Once adopted, every later run keeps what edge nodes hold as adoption did (certificates by content,
        # not by the names kubectl-edge would give them).
        adopting = options.components.adopt or bool(state.settings.get(adopt.SETTINGS_KEY))
        component_options = replace(options.components, ca_key_file=ca_files.ca_key_file, adopt=adopting)
        facts = gather(cluster, inputs)
        recognition = recognise(cluster, (facts.version_major, facts.version_minor))
        if recognition.installed and run_components and not adopting and \
                not release_deployed(cluster):
            raise PreconditionFailed(
                "this cluster was prepared by SuperEdge's edgeadm: its components are in edge-system without "
                f"Helm ownership ({', '.join(recognition.components)})",
                "run kubectl edge addon --adopt to make them the superedge-addon release (the tunnel token, "
                "certificates, health-check key, edge-info and NodePorts are kept; detach returns to this state); "
                "add --dry-run to see the plan")
        phased: list[tuple[str, Action]] = []
        if run_prerequisites:
            phased += [("prerequisites", plan_object(d, cluster.get(ObjectRef.of(d.body))))
                       for d in desired_prerequisites(facts)]
        if run_components:
            # Adopted edge nodes dial the host edgeadm wrote into tunnel-edge's configuration; keep it.
            adopted_host = (adopt_material.tunnel_host(cluster.get(adopt_material.TUNNEL_EDGE_CONF)) if adopting
                            else None)
            components_plan = components_phase.plan_components(
                cluster, facts, public_address or adopted_host or facts.control_plane_endpoint,
                state.settings.get(components_phase.SETTINGS_KEY) or {}, component_options)
            phased += [("components", action) for action in components_plan.actions]
    except Forbidden:
        check_permissions(cluster)  # names every missing permission, not just the first read that failed
        raise
    report.notes.extend(ca_files.notes)
    report.notes.extend(recognition.notes(options.repair))
    report.notes.extend(facts.notes)
    actions = [action for _, action in phased]
    report.actions = actions
    changes = [(phase, a) for phase, a in phased if a.verb is not Verb.keep]
    edits = [*(components_plan.edits if components_plan else []), *(recognition.repairs if options.repair else [])]
    report.edits = edits
    if component_options.adopt and components_plan is not None:
        edited = {str(edit.ref) for edit in edits}
        left = [ref for ref in recognition.components if ref not in edited]
        if left:
            report.notes.append(f"left as edgeadm made it (the chart renders no such object): {', '.join(left)}")
    settings = dict(state.settings)
    if options.inputs.public_address:
        settings["publicAddress"] = options.inputs.public_address
    if edits:
        # Write-ahead: detach looks for the saved originals whenever this is on record.
        settings[adopt.SETTINGS_KEY] = {"secret": adopt.ORIGINALS.name, "namespace": adopt.ORIGINALS.namespace}
    install_needed = components_plan is not None and not components_plan.up_to_date
    if components_plan is not None:
        report.notes.extend(components_plan.notes)
        report.helm_values = components_plan.values
        if install_needed:
            # Write-ahead: the release is on record before helm makes it, so detach knows to uninstall it.
            settings[components_phase.SETTINGS_KEY] = {**(settings.get(components_phase.SETTINGS_KEY) or {}),
                                                 "release": chart.RELEASE, "namespace": chart.NAMESPACE}
    probe_needed = run_preflight and (options.reprobe or state.preflight is None)
    uids_missing = any(entry.uid is None for entry in state.created)
    if state.preflight is not None:
        report.findings = Findings.from_json(state.preflight)

    if run_preflight:
        if report.findings and not probe_needed:
            notify("preflight", "using the findings remembered from an earlier run (--reprobe measures again)")
        stored = cluster_info_server(cluster.get(CLUSTER_INFO))
        if stored and stored != facts.cluster_info_server:
            server_line = f"cluster-info server {stored} (as stored; addon would write {facts.cluster_info_server})"
        else:
            server_line = f"cluster-info server {facts.cluster_info_server}"
        notify("preflight", f"server {facts.git_version}; {server_line}")
    if not (changes or probe_needed or settings != state.settings or uids_missing or install_needed or edits):
        notify("addon", "everything is in place; nothing to change")
        return report
    if run_preflight:
        check_permissions(cluster)
        notify("preflight", "permissions: the current user may make every change addon needs")
    if options.dry_run:
        notify("preflight", "probe tokens are not created in a dry run; the signer and cleaner are not measured")
        if components_plan is not None:
            report.rendered = components_phase.render(cluster, components_plan, options.components, facts.git_version)
        return report

    probe: Probe | None = None
    if probe_needed:
        check_anonymous(cluster)
        notify("preflight", "anonymous access: the API server accepts anonymous requests")
        probe = Probe(cluster)
        probe.start()
        notify("preflight", "bootstrap-token authentication: a probe token authenticated")
    try:
        if changes or uids_missing or settings != state.settings:
            for _, action in changes:
                if action.verb is Verb.create and state.find_created(action.ref) is None:
                    state.created.append(CreatedObject(action.ref))
                elif action.verb is Verb.patch:
                    state.patches.append(PatchRecord(action.ref, action.changes, action.forward, action.inverse))
            state.settings = settings
            save_state(cluster, state)  # write-ahead: the record precedes the changes
            uids: dict[ObjectRef, str] = {}
            for phase, action in changes:
                uid = _apply(cluster, action)
                if uid:
                    uids[action.ref] = uid
                notify(phase, progress_line(action))
            _record_uids(cluster, state, uids)
        if edits:
            adopt.save_originals(cluster, edits)  # before the first edit: detach restores from these
            adopt.apply_edits(cluster, edits, notify)
        for phase, action in phased:
            if action.verb is Verb.keep:
                notify(phase, progress_line(action))
        if probe is not None:
            signer, cleaner = probe.finish(cluster_info_exists=cluster.get(CLUSTER_INFO) is not None)
            probe = None
            report.findings = Findings(server_version=facts.git_version, signer=signer, cleaner=cleaner)
            state.preflight = report.findings.to_json()
            notify("preflight", _describe_signer(signer))
            notify("preflight", "token cleaner: " + ("runs" if cleaner else
                                                     "not running; kubectl-edge deletes expired tokens it made"))
        if components_plan is not None:
            if install_needed:
                components_phase.install(cluster, components_plan, options.components, notify)
                state.settings[components_phase.SETTINGS_KEY] = {"release": chart.RELEASE, "namespace": chart.NAMESPACE,
                                                           "digest": components_plan.digest}
            else:
                notify("components", f"release {chart.RELEASE} is up to date (same chart and values)")
        save_state(cluster, state)
    finally:
        if probe is not None:  # an error before the findings: leave no probe token behind
            remove_probes(cluster)
    report.writes = cluster.writes
    return report


def _describe_signer(signer: bool | None) -> str:
    if signer is None:
        return "bootstrap signer: not measured (cluster-info does not exist; run addon with its prerequisites)"
    return "bootstrap signer: " + ("runs" if signer else "not running; kubectl-edge signs cluster-info itself")
