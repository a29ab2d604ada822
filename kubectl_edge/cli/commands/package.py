"""``kubectl edge package build``: the static install package edge nodes install kubelet and CNI from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kubectl_edge.cli.commands._common import group
from kubectl_edge.cli.output import OutputFormat, dump, emit
from kubectl_edge.cli.ui import progress

app = group("package", "kubectl edge package build: the static install package for edgeadm join --install-pkg-path.")


@app.command("build")
def build(
    kubelet: Annotated[Path, typer.Option("--kubelet", metavar="FILE", help="the kubelet binary")],
    cni: Annotated[Path, typer.Option("--cni", metavar="DIR", help="directory of CNI plugin binaries")],
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", metavar="FILE", help="the package file, or a directory for the standard name "
        "(default: ./kube-linux-<arch>-v<version>.tar.gz)")] = None,
    arch: Annotated[str | None, typer.Option("--arch", metavar="ARCH",
                                             help="amd64, arm64, ... (default: from the kubelet binary)")] = None,
    kubernetes_version: Annotated[str | None, typer.Option(
        "--kubernetes-version", metavar="VERSION", help="the kubelet's version (default: kubelet --version)")] = None,
    lite_apiserver: Annotated[Path | None, typer.Option(
        "--lite-apiserver", metavar="FILE", help="SuperEdge's lite-apiserver binary, for edge autonomy")] = None,
    binary: Annotated[list[Path] | None, typer.Option(
        "--binary", metavar="FILE", help="another binary for /usr/bin (kubectl, conntrack); repeatable")] = None,
    format_: Annotated[OutputFormat, typer.Option("--format", help="text, json or yaml summary on stdout")
                       ] = OutputFormat.text,
) -> None:
    """Build kube-linux-<arch>-v<version>.tar.gz: SuperEdge's layout plus manifest.json with every file's sha256."""
    from kubectl_edge.node.package import PackageInputs, build_package

    built = build_package(PackageInputs(kubelet, cni, arch, kubernetes_version, lite_apiserver, tuple(binary or ())),
                          output)
    if format_ is not OutputFormat.text:
        emit(dump(built.to_json(), format_))
        return
    progress("package", f"{len(built.files)} files, {built.architecture}, kubelet {built.kubernetes_version}")
    emit(f"{built.path}\nsha256 {built.sha256}\n")
