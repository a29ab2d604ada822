#!/usr/bin/env python3
"""Build ``edgeadm``: one executable zipapp of ``installer/edge_installer`` and ``edge_protocol``, reproducibly.

    python3 installer/build.py [-o dist/edgeadm]

The archive is what ``python -m zipapp`` makes (an interpreter line, then a zip with ``__main__.py`` at its
root), written by hand so that the same sources always give the same bytes: entries sorted by name, every
timestamp 1980-01-01 00:00:00, every mode 0644, the same compression level, no directory entries, nothing
from the environment. Its root ``__main__.py`` is ``archive_main.py``: a version guard written in syntax
that Python 2.7 and 3.6 still parse, so they print one line instead of a SyntaxError.

The wheel carries the result as ``kubectl_edge/_data/edgeadm`` (``installer/hatch_build.py``); in a source
checkout ``kubectl edge installer`` builds it on demand with :func:`build_archive`. Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import zipfile
from pathlib import Path
from typing import List, Optional, Tuple

INTERPRETER = b"#!/usr/bin/env python3\n"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--
COMPRESSION_LEVEL = 9
PACKAGES = ("edge_installer", "edge_protocol")
HERE = Path(__file__).resolve().parent


def source_files(repo: Path) -> List[Tuple[str, Path]]:
    """Every file that goes into the archive, as (name in the archive, path on disk), sorted by name."""
    roots = {"edge_installer": repo / "installer" / "edge_installer", "edge_protocol": repo / "edge_protocol"}
    files = [("__main__.py", repo / "installer" / "archive_main.py")]
    for package in PACKAGES:
        root = roots[package]
        if not (root / "__init__.py").is_file():
            raise FileNotFoundError(f"{root} is not a package directory")
        for path in root.rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            files.append((f"{package}/{path.relative_to(root).as_posix()}", path))
    return sorted(files)


def build_archive(repo: Optional[Path] = None) -> bytes:
    """The bytes of the edgeadm zipapp built from the sources under ``repo`` (default: this checkout)."""
    root = repo or HERE.parent
    buffer = io.BytesIO()
    buffer.write(INTERPRETER)
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, path in source_files(root):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.create_system = 3  # Unix, so the mode below is what unzip applies
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compress_type=zipfile.ZIP_DEFLATED,
                             compresslevel=COMPRESSION_LEVEL)
    return buffer.getvalue()


def write_executable(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0755, replacing the file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.chmod(temporary, 0o755)
    os.replace(temporary, path)


def main(argv: Optional[List[str]] = None) -> int:
    """Build the archive and say where it went, how big it is and its SHA-256."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-o", "--output", type=Path, default=HERE.parent / "dist" / "edgeadm")
    args = parser.parse_args(argv)
    data = build_archive()
    write_executable(args.output, data)
    print(f"{args.output}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
