"""The journal of a join: every change edgeadm makes to the node, written down before it is made.

``<root>/var/lib/edgeadm/journal.json`` holds one entry per action with what undoing it needs (the hash,
mode and owner of a file it replaced, whose bytes are kept in ``backup/<sha256>``; the text it put into
``/etc/hosts`` and what stood there before; the command that undoes a command). The file is rewritten
atomically and fsynced before each action runs, so a join killed at any point leaves a journal that
``edgeadm reset`` completes from, and reset marks each entry undone as it goes, so it is resumable too.

Fault injection for the interruption tests: with ``EDGEADM_FAULT_KILL_AFTER_ACTIONS=k`` the process kills
itself right after the k-th action is journaled (before it runs); ``EDGEADM_FAULT_KILL_AFTER_UNDOS=k`` does
the same in reset after the k-th entry is marked undone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
from typing import Any, Dict, List, Optional

from edge_installer import PROGRAM, __version__
from edge_installer.errors import InstallerError
from edge_installer.fsutil import fsync_dir, tmp_path, write_durably

STATE_DIR = "/var/lib/edgeadm"
JOURNAL_FILE = "journal.json"
BACKUP_DIR = "backup"
FORMAT = 1
FAULT_KILL_AFTER_ACTIONS = "EDGEADM_FAULT_KILL_AFTER_ACTIONS"
FAULT_KILL_AFTER_UNDOS = "EDGEADM_FAULT_KILL_AFTER_UNDOS"

Entry = Dict[str, Any]


def host_path(root: str, node_path: str) -> str:
    """Where a node path (``/etc/hosts``) is under ``root``.

    Under a ``--root`` other than ``/``, a symbolic link inside the root (``etc -> /etc``) must not lead a
    write or a removal out of it: the path's directory must resolve to somewhere inside the root. (The last
    component itself is never followed: files are replaced by rename and inspected with ``lstat``.)

    Raises:
        InstallerError: The path leads out of the root through a symbolic link.
    """
    path = os.path.join(root, node_path.lstrip("/"))
    if os.path.abspath(root) != "/":
        real_root = os.path.realpath(root)
        real = os.path.realpath(os.path.dirname(path))
        if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
            raise InstallerError(f"{path} leads out of the root directory {root} through a symbolic link (its "
                                 f"directory is {real})",
                                 "replace the symbolic links inside --root by directories, or use another --root")
    return path


def journal_path(root: str) -> str:
    """The journal's path under ``root``."""
    return host_path(root, f"{STATE_DIR}/{JOURNAL_FILE}")


def _fault_limit(variable: str) -> Optional[int]:
    value = os.environ.get(variable)
    return int(value) if value else None


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class Journal:
    """The journal file of one node root; created on the first action, removed when reset has undone all."""

    def __init__(self, root: str, document: Dict[str, Any]) -> None:
        """Wrap a loaded or new journal document (use :meth:`load` or :meth:`create`)."""
        self.root = root
        self.document = document
        self._recorded = 0
        self._undone = 0

    @property
    def path(self) -> str:
        """The journal file."""
        return journal_path(self.root)

    @property
    def state_dir(self) -> str:
        """edgeadm's state directory under the root."""
        return host_path(self.root, STATE_DIR)

    @property
    def actions(self) -> List[Entry]:
        """The journaled actions, in the order they were made."""
        actions: List[Entry] = self.document["actions"]
        return actions

    def backup_path(self, sha256: str) -> str:
        """Where the bytes of a replaced file with this hash are kept."""
        return os.path.join(self.state_dir, BACKUP_DIR, sha256)

    @classmethod
    def load(cls, root: str) -> Optional[Journal]:
        """The journal under ``root``, or None when there is none.

        Raises:
            InstallerError: The file exists but is not a journal this edgeadm understands.
        """
        path = journal_path(root)
        try:
            with open(path, "rb") as handle:
                document = json.loads(handle.read().decode("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise InstallerError(f"cannot read the journal {path}: {exc}",
                                 "restore it from a backup, or clean the node by hand") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT or \
                not isinstance(document.get("actions"), list):
            raise InstallerError(f"{path} is not an edgeadm journal of format {FORMAT}",
                                 "use the edgeadm release that wrote it to reset the node")
        return cls(root, document)

    @classmethod
    def create(cls, root: str, header: Dict[str, Any]) -> Journal:
        """Create the state directory (remembering which of its parents it had to create) and the journal."""
        created: List[str] = []
        node_dir = STATE_DIR
        missing = []
        while not os.path.isdir(host_path(root, node_dir)):
            missing.append(node_dir)
            node_dir = os.path.dirname(node_dir)
        for directory in reversed(missing):
            # Backups may hold credentials (an old kubelet.conf): the state directory is private.
            os.mkdir(host_path(root, directory), 0o700 if directory == STATE_DIR else 0o755)
            fsync_dir(os.path.dirname(host_path(root, directory)))
            created.append(directory)
        document: Dict[str, Any] = {"format": FORMAT, "program": f"{PROGRAM} {__version__}", **header,
                                    "createdDirs": created, "actions": []}
        journal = cls(root, document)
        journal.save()
        return journal

    def save(self) -> None:
        """Write the journal atomically and flush it to disk."""
        data = json.dumps(self.document, indent=1, sort_keys=True).encode("utf-8") + b"\n"
        write_durably(self.path, data, 0o600)

    def record(self, entry: Entry) -> Entry:
        """Append an action and flush the journal; only then may the caller perform the action."""
        entry = dict(entry, id=len(self.actions) + 1, undone=False)
        self.actions.append(entry)
        self.save()
        self._recorded += 1
        limit = _fault_limit(FAULT_KILL_AFTER_ACTIONS)
        if limit is not None and self._recorded >= limit:
            _kill_self()
        return entry

    def mark_undone(self, entry: Entry) -> None:
        """Note that an action has been undone, and flush the journal."""
        entry["undone"] = True
        self.save()
        self._undone += 1
        limit = _fault_limit(FAULT_KILL_AFTER_UNDOS)
        if limit is not None and self._undone >= limit:
            _kill_self()

    def discard(self) -> None:
        """Remove the backups, the journal, the state directory and the parents it created (if empty)."""
        shutil.rmtree(os.path.join(self.state_dir, BACKUP_DIR), ignore_errors=True)
        for path in (tmp_path(self.path), self.path):
            if os.path.lexists(path):
                os.unlink(path)
        for directory in reversed(self.document.get("createdDirs") or []):
            # Not empty (something else lives there now) or gone already: leave it.
            with contextlib.suppress(OSError):
                os.rmdir(host_path(self.root, directory))


def remove_empty_state_dir(root: str) -> None:
    """Remove edgeadm's state directory when it holds nothing (left by an interrupted reset)."""
    with contextlib.suppress(OSError):
        os.rmdir(host_path(root, STATE_DIR))
