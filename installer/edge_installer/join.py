"""``edgeadm join``: the shared state of the phases and the run itself.

What phases share is computed once, on first use (kubeadm's lazily built join data): the endpoint probe,
the discovery, the checked package, the edge autonomy decision. So ``edgeadm join phase kubelet ...`` runs
discovery by itself, while a full join does it once in the discovery phase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from edge_installer import system
from edge_installer.apiclient import Response
from edge_installer.changes import Changes
from edge_installer.config import LITE_APISERVER_BINARY, JoinOptions
from edge_installer.discovery import Discovery, discover, probe
from edge_installer.errors import PackageError
from edge_installer.kubeletcompat import KubeletFit, fit_for_lite_apiserver
from edge_installer.output import Output
from edge_installer.package import Package, Workdir, fetch, inspect
from edge_installer.workflow import Runner
from edge_protocol import contract, versions
from edge_protocol import package as layout
from edge_protocol.endpoint import HOSTS_MAPPING_NAME
from edge_protocol.network import endpoint_url, is_ip


@dataclass(frozen=True)
class Autonomy:
    """Whether lite-apiserver runs on this node, and why (not)."""

    on: bool
    reason: str
    virtual_address: Optional[str] = None
    #: What the package's kubelet needs to work behind lite-apiserver (feature gates), when ``on``.
    kubelet_fit: KubeletFit = field(default_factory=KubeletFit)


class JoinContext:
    """Options, output, the change journal, and the lazily computed facts the phases share."""

    def __init__(self, options: JoinOptions, out: Output) -> None:
        """Prepare a join; nothing is read or changed yet."""
        self.options = options
        self.out = out
        self.changes = Changes(options.root, out, options.dry_run,
                               {"command": "join", "node": options.node_name,
                                "endpoint": endpoint_url(options.host, options.port)})
        self.workdir = Workdir()
        self._probe: Optional[Response] = None
        self._discovery: Optional[Discovery] = None
        self._package: Optional[Package] = None
        self._package_done = False
        self._skew_checked = False
        self._autonomy: Optional[Autonomy] = None

    # --- facts -----------------------------------------------------------------------------------------

    def probe(self) -> Response:
        """The anonymous, untrusted ``/version`` answer of the endpoint (does it answer as kube-apiserver?)."""
        if self._probe is None:
            self._probe = probe(self.options.host, self.options.port, 10.0)
        return self._probe

    def discovery(self) -> Discovery:
        """The verified cluster facts (runs discovery on first use)."""
        if self._discovery is None:
            self._discovery = discover(self.options.host, self.options.port, self.options.token, self.options.pins,
                                       self.options.node_name, self.out)
            self.check_skew(self._discovery.server_version)
        return self._discovery

    def package(self) -> Optional[Package]:
        """The checked install package, or None without ``--install-pkg-path``."""
        if not self._package_done:
            location = self.options.install_pkg_path
            if location:
                path = fetch(location, self.workdir.path, self.out)
                self._package = inspect(path, system.machine(), self.options.install_pkg_sha256, self.out)
                what = f"for {self._package.architecture or 'an unstated architecture'}, kubelet " \
                       f"{self._package.kubernetes_version or '(version not stated)'}"
                checked = "every file matches its manifest" if self._package.has_manifest else "no manifest"
                self.out.progress("package", f"checked {location}: {what}; {checked}")
                for note in self._package.notes:
                    self.out.warn("package", note)
            self._package_done = True
        return self._package

    def check_skew(self, version: Dict[str, Any]) -> None:
        """Refuse a package whose kubelet the API server of this version does not support.

        Raises:
            PackageError: The kubelet is newer than the API server, or too old.
        """
        if self._skew_checked or not self.options.install_pkg_path:
            return
        server = version.get("gitVersion")
        package = self.package()
        if not isinstance(server, str) or package is None or not package.kubernetes_version:
            return
        try:
            problem = versions.kubelet_skew_problem(package.kubernetes_version, server)
        except versions.VersionError:
            return
        if problem:
            raise PackageError(f"the install package does not fit the cluster: {problem}",
                               f"use a package of the cluster's version ({server}) or up to "
                               f"{versions.KUBELET_MAX_LAG} minor versions older")
        self._skew_checked = True

    def api_server_url(self) -> str:
        """The address kubelet uses for the API server: ``kubernetes.default`` for an IP, else the name."""
        host = HOSTS_MAPPING_NAME if is_ip(self.options.host) else self.options.host
        return endpoint_url(host, self.options.port)

    def autonomy(self) -> Autonomy:
        """Whether this node runs lite-apiserver (SPEC 4.1 phase 5), and the reason (decided once)."""
        if self._autonomy is None:
            self._autonomy = self._decide_autonomy()
        return self._autonomy

    def _decide_autonomy(self) -> Autonomy:
        if self.options.cloud:
            return Autonomy(False, "cloud nodes (--cloud) talk to the API server directly")
        if self.options.no_autonomy:
            return Autonomy(False, "--no-autonomy was given")
        if "lite-apiserver" in self.options.skip_phases:
            return Autonomy(False, "the lite-apiserver phase is skipped")
        package = self.package()
        if package is None or not package.has(LITE_APISERVER_BINARY):
            return Autonomy(False, f"the install package carries no {layout.LITE_APISERVER}")
        edge_info = self.discovery().edge_info
        if edge_info is None:
            return Autonomy(False, f"the cluster has no {contract.EDGE_INFO_REF} (the edge components are not "
                                   "installed)")
        missing = [key for key in (contract.LITE_APISERVER_CERT_KEY, contract.EDGE_VIRTUAL_ADDR_KEY)
                   if not edge_info.get(key)]
        if not self.discovery().lite_apiserver_key:
            missing.append(contract.LITE_APISERVER_KEY_KEY)
        if missing:
            return Autonomy(False, f"{contract.EDGE_INFO_REF} lacks {', '.join(missing)}")
        fit = fit_for_lite_apiserver(package.kubernetes_version)
        for warning in fit.warnings:
            self.out.warn("lite-apiserver", warning)
        return Autonomy(True, "lite-apiserver will serve kubelet from its cache while the cloud is unreachable",
                        edge_info[contract.EDGE_VIRTUAL_ADDR_KEY].strip(), fit)

    def kubelet_server(self) -> str:
        """Where kubelet's kubeconfig points: lite-apiserver with edge autonomy, else the API server."""
        autonomy = self.autonomy()
        if autonomy.on and autonomy.virtual_address:
            return endpoint_url(autonomy.virtual_address, contract.LITE_APISERVER_PORT)
        return self.api_server_url()

    def node_labels(self) -> Dict[str, str]:
        """The labels kubelet registers the node with."""
        return self.options.labels()


def run_join(options: JoinOptions, out: Output, only: Optional[str] = None) -> JoinContext:
    """Run every join phase that is selected (or just ``only``); return the context for reporting.

    Raises:
        InstallerError: A phase failed; the error carries the phase's name.
    """
    context = JoinContext(options, out)
    try:
        Runner(options.skip_phases, only).run(context)
    finally:
        context.workdir.remove()
    return context
