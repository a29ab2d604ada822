"""``kubectl edge installer -o FILE``: write the edgeadm zipapp for edge nodes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kubectl_edge.cli.commands._common import write_atomically
from kubectl_edge.cli.ui import progress


def installer(
    output: Annotated[Path, typer.Option("-o", "--output", metavar="FILE",
                                         help="where to write edgeadm (made executable)")],
) -> None:
    """Write edgeadm, the edge-node installer: one file that runs with any python3 >= 3.8 on the node."""
    import hashlib

    from kubectl_edge.node.installer import installer_archive

    data, origin = installer_archive()
    target = output / "edgeadm" if output.is_dir() else output

    def stage(path: Path) -> None:
        path.write_bytes(data)
        path.chmod(0o755)

    write_atomically(target, stage, "pass -o with a writable path")
    progress("installer", f"wrote {target} ({len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}, {origin})")
    progress("installer", f"copy it to the edge node and run: {target.name} join ... (print the line with "
                          "kubectl edge token create --print-join-command)")
