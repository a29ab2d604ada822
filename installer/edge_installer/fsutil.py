"""Durable file operations: atomic replacement, fsync of files and directories, hashing.

A file is replaced by writing a temporary sibling (``<name>.edgeadm-tmp``: a fixed name, so an interrupted
run leaves something reset can find), fsyncing it, giving it its mode and owner, renaming it over the
target and fsyncing the directory. Readers never see a half-written file. The temporary file is always a
new one (``O_EXCL``, not following links): whatever stands at its name is unlinked first, so a planted hard
link or symbolic link there is never written through.

:func:`exclusive_lock` serialises edgeadm runs (join, reset) on a node root and the edits of ``/etc/hosts``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import stat
from typing import BinaryIO, Callable, Iterator, Optional

TMP_SUFFIX = ".edgeadm-tmp"
_CHUNK = 1 << 20


def tmp_path(path: str) -> str:
    """The temporary sibling used while ``path`` is replaced."""
    return path + TMP_SUFFIX


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str) -> str:
    """Hex SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(path: str) -> None:
    """Flush a directory's entries (a rename or unlink in it) to disk."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: str, data: bytes, mode: int = 0o600) -> None:
    """Write a file edgeadm owns (its journal) atomically and durably."""
    replace_atomically(path, lambda handle: handle.write(data), mode, None, None)


def replace_atomically(path: str, fill: Callable[[BinaryIO], object], mode: int, uid: Optional[int],
                       gid: Optional[int]) -> None:
    """Replace ``path`` with what ``fill`` writes, atomically, with this mode and owner.

    Where the file cannot be renamed over (``/etc/hosts`` bind-mounted into a container), it is rewritten in
    place instead, which is still flushed before returning.
    """
    temporary = tmp_path(path)
    fd = open_new(temporary)
    try:
        with os.fdopen(fd, "wb") as handle:
            fill(handle)
            handle.flush()
            _set_owner(handle.fileno(), uid, gid)
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        try:
            os.replace(temporary, path)
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.EXDEV):
                raise
            _rewrite_in_place(temporary, path)
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)
    fsync_dir(os.path.dirname(path) or ".")


def open_new(path: str, mode: int = 0o600) -> int:
    """Create ``path`` as a new file and open it for writing, never writing through what stood there.

    A leftover at the name (an interrupted run's temporary file, or a link someone planted) is unlinked,
    which never touches what a link points to; then ``O_CREAT | O_EXCL`` creates a fresh inode, and fails
    if anything appeared at the name in between.
    """
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)


class LockBusy(Exception):
    """Another process holds the lock."""


@contextlib.contextmanager
def exclusive_lock(directory: str, wait: bool) -> Iterator[None]:
    """Hold an exclusive ``flock`` on a directory (no lock file is created, so nothing is left behind).

    Raises:
        LockBusy: ``wait`` is false and another process holds it.
    """
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise LockBusy(directory) from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _rewrite_in_place(source: str, target: str) -> None:
    with open(source, "rb") as reader, open(target, "r+b") as writer:
        writer.truncate(0)
        for chunk in iter(lambda: reader.read(_CHUNK), b""):
            writer.write(chunk)
        writer.flush()
        os.fsync(writer.fileno())


def _set_owner(fd: int, uid: Optional[int], gid: Optional[int]) -> None:
    if uid is None and gid is None:
        return
    # Only root may give files away; a non-root run under --root keeps its own ownership.
    with contextlib.suppress(PermissionError):
        os.fchown(fd, -1 if uid is None else uid, -1 if gid is None else gid)


def copy_stream(reader: BinaryIO, writer: BinaryIO) -> str:
    """Copy a stream; return the hex SHA-256 of what was copied."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: reader.read(_CHUNK), b""):
        digest.update(chunk)
        writer.write(chunk)
    return digest.hexdigest()


def file_state(path: str) -> Optional[os.stat_result]:
    """``lstat`` of a path, or None when nothing is there."""
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def is_regular(state: Optional[os.stat_result]) -> bool:
    """Whether an ``lstat`` result is a regular file."""
    return state is not None and stat.S_ISREG(state.st_mode)
