"""``kubectl edge installer -o FILE``: write the edgeadm zipapp for edge nodes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kubectl_edge.cli.ui import progress


def installer(
    output: Annotated[Path, typer.Option("-o", "--output", metavar="FILE",
                                         help="where to write edgeadm (made executable)")],
) -> None:
    """Write edgeadm, the edge-node installer: one file that runs with any python3 >= 3.8 on the node."""
    import hashlib
    import os

    from kubectl_edge.errors import ConfigError
    from kubectl_edge.node.installer import installer_archive

    data, origin = installer_archive()
    target = output / "edgeadm" if output.is_dir() else output
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        temporary.write_bytes(data)
        os.chmod(temporary, 0o755)
        os.replace(temporary, target)
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror}", "pass -o with a writable path") from exc
    progress("installer", f"wrote {target} ({len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}, {origin})")
    progress("installer", f"copy it to the edge node and run: {target.name} join ... (print the line with "
                          "kubectl edge token create --print-join-command)")
