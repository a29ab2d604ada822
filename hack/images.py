#!/usr/bin/env python3
"""Container images built here, without a registry: the pod sandbox (pause) and a test workload.

Each is one static C program (``gcc -static``) in a single-layer OCI image-layout tarball that
``ctr -n k8s.io images import`` accepts, named ``localhost/<name>:<tag>``. Deterministic: the same
sources give the same tarball.

    hack/images.py OUTDIR        writes OUTDIR/pause.tar and OUTDIR/hello.tar
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PAUSE_C = r"""
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
    signal(SIGINT, quit); signal(SIGTERM, quit); signal(SIGCHLD, reap);
    for (;;) pause();
}
"""

HELLO_C = r"""
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static void quit(int sig) { (void)sig; _exit(0); }
int main(int argc, char **argv) {
    char host[256] = "";
    signal(SIGINT, quit); signal(SIGTERM, quit);
    gethostname(host, sizeof host - 1);
    printf("%s on %s\n", argc > 1 ? argv[1] : "hello from the edge", host);
    fflush(stdout);
    for (;;) pause();
}
"""

PAUSE_IMAGE = "localhost/pause:edge"
HELLO_IMAGE = "localhost/hello:edge"


def compile_static(source: str, output: Path) -> None:
    """Compile one C file into a static, stripped binary."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "main.c"
        path.write_text(source)
        subprocess.run(["gcc", "-static", "-O2", "-s", "-o", str(output), str(path)], check=True)


def _tar_bytes(files: dict[str, tuple[bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, (data, mode) in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _blob(blobs: dict[str, bytes], data: bytes) -> dict[str, object]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[f"blobs/sha256/{digest[7:]}"] = data
    return {"digest": digest, "size": len(data)}


def oci_image(binary: bytes, entrypoint: str, reference: str) -> bytes:
    """An OCI image-layout tarball with one layer holding ``/<entrypoint>``."""
    layer = _tar_bytes({entrypoint: (binary, 0o755)})
    compressed = gzip.compress(layer, mtime=0)
    blobs: dict[str, bytes] = {}
    layer_descriptor = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **_blob(blobs, compressed)}
    config = {
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": [f"/{entrypoint}"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
    }
    config_descriptor = {"mediaType": "application/vnd.oci.image.config.v1+json",
                         **_blob(blobs, json.dumps(config, sort_keys=True).encode())}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": config_descriptor, "layers": [layer_descriptor]}
    manifest_descriptor = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                           **_blob(blobs, json.dumps(manifest, sort_keys=True).encode()),
                           "annotations": {"org.opencontainers.image.ref.name": reference,
                                           "io.containerd.image.name": reference}}
    index = {"schemaVersion": 2, "manifests": [manifest_descriptor]}
    files = {name: (data, 0o644) for name, data in blobs.items()}
    files["oci-layout"] = (b'{"imageLayoutVersion":"1.0.0"}', 0o644)
    files["index.json"] = (json.dumps(index, sort_keys=True).encode(), 0o644)
    return _tar_bytes(files)


def build(out: Path) -> dict[str, Path]:
    """Write pause.tar and hello.tar into ``out``; return image reference -> tarball."""
    out.mkdir(parents=True, exist_ok=True)
    made = {}
    for name, source, reference in (("pause", PAUSE_C, PAUSE_IMAGE), ("hello", HELLO_C, HELLO_IMAGE)):
        binary = out / name
        compile_static(source, binary)
        tarball = out / f"{name}.tar"
        tarball.write_bytes(oci_image(binary.read_bytes(), name, reference))
        made[reference] = tarball
    return made


if __name__ == "__main__":
    for ref, path in build(Path(sys.argv[1])).items():
        print(f"{ref} {path}")
