#!/usr/bin/env python3
"""Container images built here, without a registry: the pod sandbox (pause) and a test workload.

Each is one static C program (``gcc -static``) in a single-layer OCI image-layout tarball that
``ctr -n k8s.io images import`` accepts, named ``localhost/<name>:<tag>``. Deterministic: the same
sources give the same tarball.

    hack/images.py OUTDIR        writes OUTDIR/pause.tar and OUTDIR/hello.tar

``build_web`` makes a third, a tiny HTTP responder and client; ``binary_image`` wraps a given static binary
(SuperEdge's, say) into an image with it at /usr/local/bin/<name>.
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

# A tiny HTTP responder and client: ``web serve PORT TEXT`` answers every request with TEXT;
# ``web get IP PORT PATH`` prints the body of one GET (exit 1 when it fails); ``web echo WORD...`` prints them.
WEB_C = r"""
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static void quit(int sig) { (void)sig; _exit(0); }
static int serve(int port, const char *text) {
    int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    char request[4096], answer[8192];
    a.sin_family = AF_INET; a.sin_port = htons(port); a.sin_addr.s_addr = htonl(INADDR_ANY);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 16)) { perror("listen"); return 1; }
    printf("serving %s on %d\n", text, port); fflush(stdout);
    for (;;) {
        int c = accept(s, 0, 0);
        if (c < 0) continue;
        if (read(c, request, sizeof request) > 0) {
            int n = snprintf(answer, sizeof answer, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n", strlen(text) + 1, text);
            if (write(c, answer, n) < 0) perror("write");
        }
        close(c);
    }
}
static int get(const char *ip, int port, const char *path) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    char buffer[65536]; size_t used = 0; ssize_t n;
    struct timeval timeout = {5, 0};
    a.sin_family = AF_INET; a.sin_port = htons(port);
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) { fprintf(stderr, "not an IPv4 address: %s\n", ip); return 2; }
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (connect(s, (struct sockaddr *)&a, sizeof a)) { perror("connect"); return 1; }
    n = snprintf(buffer, sizeof buffer, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, ip);
    if (write(s, buffer, n) != n) { perror("write"); return 1; }
    while (used < sizeof buffer - 1 && (n = read(s, buffer + used, sizeof buffer - 1 - used)) > 0) used += n;
    buffer[used] = 0;
    char *body = strstr(buffer, "\r\n\r\n");
    if (!body || strncmp(buffer, "HTTP/1.", 7)) { fprintf(stderr, "no HTTP answer\n"); return 1; }
    fputs(body + 4, stdout);
    return 0;
}
int main(int argc, char **argv) {
    signal(SIGINT, quit); signal(SIGTERM, quit);
    if (argc == 4 && !strcmp(argv[1], "serve")) return serve(atoi(argv[2]), argv[3]);
    if (argc == 5 && !strcmp(argv[1], "get")) return get(argv[2], atoi(argv[3]), argv[4]);
    if (argc >= 2 && !strcmp(argv[1], "echo")) {
        for (int i = 2; i < argc; i++) printf("%s%s", argv[i], i + 1 < argc ? " " : "\n");
        return 0;
    }
    fprintf(stderr, "usage: web serve PORT TEXT | web get IP PORT PATH | web echo WORD...\n");
    return 2;
}
"""

PAUSE_IMAGE = "localhost/pause:edge"
HELLO_IMAGE = "localhost/hello:edge"
WEB_IMAGE = "localhost/web:edge"


def compile_static(source: str, output: Path) -> None:
    """Compile one C file into a static, stripped binary."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "main.c"
        path.write_text(source)
        subprocess.run(["gcc", "-static", "-O2", "-s", "-o", str(output), str(path)], check=True)


def _tar_bytes(files: dict[str, tuple[bytes, int]], directories: tuple[str, ...] | None = None) -> bytes:
    """A tar of ``files``; with ``directories`` (a layer), those and every file's parent as directory entries."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        parents = {str(Path(name).parents[i]) for name in [*files, *(directories or ())]
                   for i in range(len(Path(name).parents) - 1)} if directories is not None else set()
        for name in sorted(parents | set(directories or ())):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755, 0
            archive.addfile(info)
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
    return oci_image_of({entrypoint: (binary, 0o755)}, [f"/{entrypoint}"], reference)


def oci_image_of(files: dict[str, tuple[bytes, int]], entrypoint: list[str] | None, reference: str,
                 env: list[str] | None = None, directories: tuple[str, ...] | None = None) -> bytes:
    """An OCI image-layout tarball with one layer: ``files`` (path in the image -> content, mode), the empty
    ``directories``, and the image's entrypoint and environment (none: the command comes from the pod)."""
    layer = _tar_bytes(files, directories)
    compressed = gzip.compress(layer, mtime=0)
    blobs: dict[str, bytes] = {}
    layer_descriptor = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **_blob(blobs, compressed)}
    image_config: dict[str, object] = {}
    if entrypoint:
        image_config["Entrypoint"] = entrypoint
    if env:
        image_config["Env"] = env
    config = {
        "architecture": "amd64", "os": "linux",
        "config": image_config,
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
    archive = {name: (data, 0o644) for name, data in blobs.items()}
    archive["oci-layout"] = (b'{"imageLayoutVersion":"1.0.0"}', 0o644)
    archive["index.json"] = (json.dumps(index, sort_keys=True).encode(), 0o644)
    return _tar_bytes(archive)


#: The search path of the binary images: commands named without a path (``edge-health``) are found there.
BINARY_IMAGE_ENV = ["PATH=/usr/local/bin:/usr/bin:/bin"]
#: Directories the binary images carry empty: log directories the components write to, and /tmp.
BINARY_IMAGE_DIRECTORIES = ("tmp", "var/log/tunnel", "etc")


def is_static(binary: Path) -> bool:
    """Whether an ELF binary is statically linked (has no program interpreter): it then runs in an empty image."""
    data = binary.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit ELF only
        return False
    phoff = int.from_bytes(data[0x20:0x28], "little")
    entry_size = int.from_bytes(data[0x36:0x38], "little")
    count = int.from_bytes(data[0x38:0x3A], "little")
    pt_interp = 3
    return all(int.from_bytes(data[phoff + i * entry_size:phoff + i * entry_size + 4], "little") != pt_interp
               for i in range(count))


def binary_image(binary: Path, reference: str, out: Path, install_dir: str = "usr/local/bin") -> Path:
    """Wrap one static binary into an image tarball ``out``: the binary at ``/<install_dir>/<its name>``.

    The image has no entrypoint (the pod's command names the binary) and no shell or libraries, so a binary
    that is not static is refused here rather than failing in the pod.
    """
    if not is_static(binary):
        raise ValueError(f"{binary} is not a static 64-bit ELF binary: it cannot run in an image without libraries")
    files = {f"{install_dir}/{binary.name}": (binary.read_bytes(), 0o755)}
    out.write_bytes(oci_image_of(files, None, reference, BINARY_IMAGE_ENV, BINARY_IMAGE_DIRECTORIES))
    return out


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


def build_web(out: Path) -> Path:
    """Write web.tar (the HTTP responder and client, ``/web``) into ``out``; return the tarball."""
    out.mkdir(parents=True, exist_ok=True)
    binary = out / "web"
    compile_static(WEB_C, binary)
    tarball = out / "web.tar"
    tarball.write_bytes(oci_image(binary.read_bytes(), "web", WEB_IMAGE))
    return tarball


if __name__ == "__main__":
    for ref, path in build(Path(sys.argv[1])).items():
        print(f"{ref} {path}")
