"""Every change join makes to the node, each journaled before it runs, and how reset undoes each.

Kinds of journal entries:

- ``dir``: a directory join created; undone by removing it when it is empty.
- ``file``: a file written or installed, with the hash, mode and owner of the file it replaced (whose bytes
  are kept in the journal's backups); undone by restoring that file byte for byte, or removing the new one.
  A file whose content is no longer what join wrote (a newer kubelet installed since, an upgraded package)
  is kept as it is and reported: reset never destroys a later change.
- ``hosts``: the edgeadm block in ``/etc/hosts``; undone by putting back what stood where it stands, keeping
  every other byte of the file. Edits of the file, by join and by reset, hold a lock on its directory.
- ``command``: a command that changed the running system (``systemctl enable kubelet``) with the commands
  that undo it.
- ``runtime-state``: directories and files the started services create (kubelet's certificates and state);
  undone by removing what appeared there after join, never crossing into another filesystem.

In a dry run nothing is journaled or changed; each change is printed instead.
"""

from __future__ import annotations

import os
import shutil
import stat
from typing import Any, BinaryIO, Callable, ContextManager, Dict, List, Optional, Set

from edge_installer import system
from edge_installer.errors import InstallerError, PreconditionError
from edge_installer.fsutil import (
    copy_stream,
    exclusive_lock,
    file_state,
    fsync_dir,
    is_regular,
    replace_atomically,
    sha256_bytes,
    sha256_file,
    tmp_path,
)
from edge_installer.hostsfile import conflicts, insert_block, remove_block, render_block
from edge_installer.journal import Entry, Journal, host_path
from edge_installer.output import Output

Opener = Callable[[], ContextManager[BinaryIO]]


def _mode_text(mode: int) -> str:
    return f"{mode:04o}"


class Changes:
    """Makes (or, in a dry run, prints) journaled changes under a root directory."""

    def __init__(self, root: str, out: Output, dry_run: bool, header: Dict[str, Any]) -> None:
        """Prepare to change the node under ``root``.

        Args:
            root: The directory taken as the node's ``/``.
            out: Where progress and dry-run lines go.
            dry_run: Print each change instead of making it.
            header: Facts stored at the top of the journal (command, node name, endpoint).
        """
        self.root = root
        self.out = out
        self.dry_run = dry_run
        self.header = header
        self.journal: Optional[Journal] = None
        self._planned_dirs: Set[str] = set()

    def host(self, node_path: str) -> str:
        """Where a node path is under the root."""
        return host_path(self.root, node_path)

    def _record(self, entry: Entry) -> Entry:
        if self.journal is None:
            self.journal = Journal.load(self.root) or Journal.create(self.root, self.header)
        return self.journal.record(entry)

    # --- directories -----------------------------------------------------------------------------------

    def ensure_dir(self, phase: str, node_path: str, mode: int = 0o755) -> None:
        """Create a directory and its missing parents, each journaled."""
        missing = self._missing_dirs(node_path)
        if missing and not self.dry_run and self.journal is None:
            # Creating the journal creates its own directories (/var/lib/edgeadm), which may be among these.
            self.journal = Journal.load(self.root) or Journal.create(self.root, self.header)
            missing = self._missing_dirs(node_path)
        for directory in reversed(missing):
            if self.dry_run:
                self._planned_dirs.add(directory)
                self.out.data(f"[dry-run] would create directory {self.host(directory)}")
                continue
            self._record({"kind": "dir", "phase": phase, "path": directory})
            os.mkdir(self.host(directory), mode)
            os.chmod(self.host(directory), mode)  # mkdir's mode is masked by the umask
            fsync_dir(os.path.dirname(self.host(directory)))

    def _missing_dirs(self, node_path: str) -> List[str]:
        """``node_path`` and its parents that do not exist (nor are planned in a dry run), deepest first."""
        missing = []
        current = node_path
        while current not in ("/", "") and not os.path.isdir(self.host(current)) and \
                current not in self._planned_dirs:
            if os.path.lexists(self.host(current)):
                raise InstallerError(f"{self.host(current)} exists and is not a directory",
                                     "move it away, then run join again")
            missing.append(current)
            current = os.path.dirname(current)
        return missing

    # --- files -----------------------------------------------------------------------------------------

    def write_file(self, phase: str, node_path: str, data: bytes, mode: int, shown: Optional[str] = None) -> bool:
        """Write a file (atomically, journaled); return False when it already had this content and mode.

        Args:
            phase: The phase making the change.
            node_path: The file, as a path on the node.
            data: The content.
            mode: Permission bits.
            shown: What a dry run prints as the content (e.g. with the token secret masked); default the
                content itself when it is text.
        """
        digest = sha256_bytes(data)

        def describe() -> str:
            if shown is not None:
                text = shown
            else:
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    return f"({len(data)} bytes, sha256 {digest})"
            return "".join(f"    {line}\n" for line in text.splitlines()).rstrip("\n")

        return self._replace(phase, node_path, digest, mode, lambda handle: handle.write(data), describe)

    def install_file(self, phase: str, node_path: str, opener: Opener, sha256: str, size: int, mode: int,
                     source: str) -> bool:
        """Install a file from a stream whose SHA-256 must be ``sha256`` (checked while it is copied).

        Raises:
            InstallerError: The stream's content does not have the expected hash (nothing is replaced).
        """
        def fill(handle: BinaryIO) -> None:
            with opener() as reader:
                got = copy_stream(reader, handle)
            if got != sha256:
                raise InstallerError(f"{source} changed while it was installed (sha256 {got}, verified {sha256})",
                                     "make sure nothing rewrites the install package during join, then reset "
                                     "and join again")

        return self._replace(phase, node_path, sha256, mode, fill,
                             lambda: f"    from {source} ({size} bytes, sha256 {sha256})")

    def _replace(self, phase: str, node_path: str, sha256: str, mode: int, fill: Callable[[BinaryIO], object],
                 describe: Callable[[], str]) -> bool:
        target = self.host(node_path)
        self.ensure_dir(phase, os.path.dirname(node_path))
        state = file_state(target)
        previous: Optional[Dict[str, Any]] = None
        if state is not None and stat.S_ISLNK(state.st_mode):
            previous = {"symlink": os.readlink(target)}
        elif is_regular(state):
            assert state is not None
            old_hash = sha256_file(target)
            if old_hash == sha256 and stat.S_IMODE(state.st_mode) == mode:
                self.out.debug(phase, f"{target} is up to date")
                return False
            previous = {"sha256": old_hash, "mode": stat.S_IMODE(state.st_mode), "uid": state.st_uid,
                        "gid": state.st_gid}
        elif state is not None:
            raise InstallerError(f"{target} exists and is not a regular file", "move it away, then run join again")
        if self.dry_run:
            verb = "replace" if previous else "write"
            self.out.data(f"[dry-run] would {verb} {target} (mode {_mode_text(mode)}):\n{describe()}")
            return True
        self._record({"kind": "file", "phase": phase, "path": node_path, "sha256": sha256, "mode": mode,
                      "previous": previous})
        if previous and "sha256" in previous:
            self._backup(target, previous["sha256"])
        uid = previous.get("uid") if previous else None
        gid = previous.get("gid") if previous else None
        replace_atomically(target, fill, mode, uid, gid)
        return True

    def _backup(self, target: str, sha256: str) -> None:
        assert self.journal is not None
        destination = self.journal.backup_path(sha256)
        if os.path.exists(destination):
            return
        os.makedirs(os.path.dirname(destination), mode=0o700, exist_ok=True)

        def copy(handle: BinaryIO) -> None:
            with open(target, "rb") as reader:
                shutil.copyfileobj(reader, handle, 1 << 20)

        replace_atomically(destination, copy, 0o600, None, None)

    # --- /etc/hosts ------------------------------------------------------------------------------------

    def set_hosts_block(self, phase: str, node_path: str, lines: List[str]) -> bool:
        """Put edgeadm's block with ``lines`` into the hosts file; keep every other byte of it.

        Raises:
            PreconditionError: Another line of the file maps one of the names elsewhere (it would win in
                glibc's lookups); nothing is changed.
            InstallerError: The file is not a regular file.
        """
        target = self.host(node_path)
        directory = os.path.dirname(target)
        if not os.path.isdir(directory):
            return self._set_hosts_block(phase, node_path, lines)
        # Serialise with other edgeadm runs' edits; the directory, because the file itself is renamed over.
        with exclusive_lock(directory, wait=True):
            return self._set_hosts_block(phase, node_path, lines)

    def _set_hosts_block(self, phase: str, node_path: str, lines: List[str]) -> bool:
        target = self.host(node_path)
        state = file_state(target)
        if state is not None and not is_regular(state):
            raise InstallerError(f"{target} is not a regular file (a symbolic link?); edgeadm edits only regular "
                                 "files", f"add the lines yourself and skip the phase: {'; '.join(lines)}")
        original = b""
        if state is not None:
            with open(target, "rb") as handle:
                original = handle.read()
        text = original.decode("latin-1")
        found = conflicts(text, lines)
        if found:
            shown = "; ".join(f"line {item.number} {item.line.strip()!r} maps {item.name} to {item.address}"
                              for item in found[:5])
            raise PreconditionError(
                f"{target} maps names edgeadm is about to map elsewhere ({shown}); the first line for a name wins, "
                "so the node would use that address while join reported success",
                "remove or comment out those lines (or correct their address), then run join again; nothing was "
                "changed")
        insertion = insert_block(text, render_block(lines))
        if insertion.text == text:
            self.out.debug(phase, f"{target} already holds the mapping")
            return False
        if self.dry_run:
            shown = "".join(f"    {line}\n" for line in insertion.inserted.strip("\n").splitlines()).rstrip("\n")
            self.out.data(f"[dry-run] would add to {target}:\n{shown}")
            return True
        self.ensure_dir(phase, os.path.dirname(node_path))
        self._record({"kind": "hosts", "phase": phase, "path": node_path, "inserted": insertion.inserted,
                      "replaced": insertion.replaced, "created": state is None})
        data = insertion.text.encode("latin-1")
        mode = stat.S_IMODE(state.st_mode) if state is not None else 0o644
        replace_atomically(target, lambda handle: handle.write(data), mode,
                           state.st_uid if state is not None else None, state.st_gid if state is not None else None)
        return True

    # --- the running system ----------------------------------------------------------------------------

    def run_command(self, phase: str, argv: List[str], undo: List[List[str]]) -> None:
        """Run a command that changes the running system, journaled with the commands that undo it."""
        if self.dry_run:
            self.out.data(f"[dry-run] would run: {' '.join(argv)}")
            return
        self._record({"kind": "command", "phase": phase, "argv": argv, "undo": undo})
        execute(argv)

    def expect_runtime_state(self, phase: str, node_paths: List[str]) -> None:
        """Journal paths the services about to start will fill, keeping what is there now."""
        if self.dry_run:
            return
        keep = []
        for node_path in node_paths:
            target = self.host(node_path)
            if os.path.isdir(target):
                for base, dirs, files in os.walk(target):
                    for name in dirs + files:
                        keep.append("/" + os.path.relpath(os.path.join(base, name), self.root))
            elif os.path.lexists(target):
                keep.append(node_path)
        self._record({"kind": "runtime-state", "phase": phase, "paths": node_paths, "keep": sorted(keep)})


def execute(argv: List[str]) -> str:
    """Run a journaled command: systemctl through its seam, anything else as a plain command."""
    if argv and argv[0] == "systemctl":
        return system.systemctl(argv[1:])
    return system.run(argv)


# --- undo --------------------------------------------------------------------------------------------------

class Undo:
    """Undoes journal entries under a root; each method returns a line saying what it did."""

    def __init__(self, journal: Journal, out: Output, dry_run: bool) -> None:
        """Prepare to undo the entries of ``journal``."""
        self.journal = journal
        self.root = journal.root
        self.out = out
        self.dry_run = dry_run
        self.systemd_touched = False
        #: Files kept because they changed after join.
        self.kept: List[str] = []

    def host(self, node_path: str) -> str:
        """Where a node path is under the root."""
        return host_path(self.root, node_path)

    def undo(self, entry: Entry) -> Optional[str]:
        """Undo one entry (idempotent); return what was done, or None when nothing was left to do."""
        kind = entry.get("kind")
        handler = {"dir": self._dir, "file": self._file, "hosts": self._hosts, "command": self._command,
                   "runtime-state": self._runtime_state}.get(str(kind))
        if handler is None:
            raise InstallerError(f"the journal has an entry of unknown kind {kind!r}",
                                 "use the edgeadm release that wrote the journal to reset the node")
        return handler(entry)

    def _dir(self, entry: Entry) -> Optional[str]:
        target = self.host(entry["path"])
        if not os.path.isdir(target) or os.path.islink(target):
            return None
        if os.listdir(target):
            leftover = ", ".join(sorted(os.listdir(target))[:5])
            self.out.warn("reset", f"kept {target}: it holds files edgeadm did not create ({leftover})")
            return None
        return self._remove(target, os.rmdir, f"directory {target}")

    def _remove(self, target: str, remove: Callable[[str], None], what: str) -> str:
        """Remove ``target`` (or say that it would be, with --dry-run) and make the removal durable."""
        if self.dry_run:
            return f"would remove {what}"
        remove(target)
        fsync_dir(os.path.dirname(target))
        return f"removed {what}"

    def _file(self, entry: Entry) -> Optional[str]:
        target = self.host(entry["path"])
        leftover = tmp_path(target)
        if os.path.lexists(leftover) and not self.dry_run:
            os.unlink(leftover)
        previous = entry.get("previous")
        state = file_state(target)
        kept = self._changed_since_join(entry, target, state)
        if kept:
            return kept
        if not previous:
            if state is None:
                return None
            return self._remove(target, os.unlink, target)
        if "symlink" in previous:
            if state is not None and stat.S_ISLNK(state.st_mode) and os.readlink(target) == previous["symlink"]:
                return None
            if self.dry_run:
                return f"would restore the symbolic link {target} -> {previous['symlink']}"
            temporary = tmp_path(target)
            os.symlink(previous["symlink"], temporary)
            os.replace(temporary, target)
            fsync_dir(os.path.dirname(target))
            return f"restored the symbolic link {target} -> {previous['symlink']}"
        backup = self.journal.backup_path(previous["sha256"])
        if is_regular(state) and state is not None and sha256_file(target) == previous["sha256"] and \
                stat.S_IMODE(state.st_mode) == previous["mode"]:
            return None
        if not os.path.exists(backup):
            raise InstallerError(f"cannot restore {target}: its backup {backup} is missing",
                                 "restore the file from another source; the journal keeps its sha256 "
                                 f"{previous['sha256']}")
        if self.dry_run:
            return f"would restore {target} (sha256 {previous['sha256']})"

        def copy(handle: BinaryIO) -> None:
            with open(backup, "rb") as reader:
                shutil.copyfileobj(reader, handle, 1 << 20)

        replace_atomically(target, copy, previous["mode"], previous.get("uid"), previous.get("gid"))
        return f"restored {target}"

    def _changed_since_join(self, entry: Entry, target: str, state: Optional[os.stat_result]) -> Optional[str]:
        """Why ``target`` is kept (it is neither what join wrote nor what stood before), or None."""
        if state is None:
            return None
        previous = entry.get("previous") or {}
        written = entry.get("sha256")
        if is_regular(state):
            current = sha256_file(target)
            if current == written or current == previous.get("sha256"):
                return None
            what = f"its content (sha256 {current}) is not what join wrote (sha256 {written})"
        elif stat.S_ISLNK(state.st_mode):
            if os.readlink(target) == previous.get("symlink"):
                return None
            what = f"it is now a symbolic link to {os.readlink(target)}"
        else:
            what = "it is no longer a regular file"
        self.kept.append(target)
        self.out.warn("reset", f"kept {target}: it changed after join ({what}); remove or restore it yourself if it "
                               "should go")
        return f"{'would keep' if self.dry_run else 'kept'} {target}: it changed after join"

    def _hosts(self, entry: Entry) -> Optional[str]:
        target = self.host(entry["path"])
        directory = os.path.dirname(target)
        if not os.path.isdir(directory):
            return None
        with exclusive_lock(directory, wait=True):
            return self._hosts_locked(entry, target)

    def _hosts_locked(self, entry: Entry, target: str) -> Optional[str]:
        if os.path.lexists(tmp_path(target)) and not self.dry_run:
            os.unlink(tmp_path(target))  # left by a join killed while it rewrote the file
        state = file_state(target)
        if not is_regular(state) or state is None:
            return None
        with open(target, "rb") as handle:
            text = handle.read().decode("latin-1")
        restored, found = remove_block(text, entry["inserted"], entry["replaced"])
        if not found:
            return None
        if self.dry_run:
            return f"would remove edgeadm's block from {target}"
        if entry.get("created") and not restored:
            os.unlink(target)
            fsync_dir(os.path.dirname(target))
            return f"removed {target} (edgeadm created it)"
        data = restored.encode("latin-1")
        replace_atomically(target, lambda handle: handle.write(data), stat.S_IMODE(state.st_mode), state.st_uid,
                           state.st_gid)
        what = "put the SuperEdge block back in" if entry["replaced"] else "removed edgeadm's block from"
        return f"{what} {target}"

    def _command(self, entry: Entry) -> Optional[str]:
        undo: List[List[str]] = entry.get("undo") or []
        if not undo:
            return None
        if any(argv[0] == "systemctl" for argv in undo) and system.find_program("systemctl") is None:
            # Without systemd nothing can have been started: the command failed when join ran it.
            return None
        done = []
        for argv in undo:
            if self.dry_run:
                done.append(" ".join(argv))
                continue
            try:
                execute(argv)
            except InstallerError as exc:
                self.out.warn("reset", exc.message)
                continue
            if argv[0] == "systemctl":
                self.systemd_touched = True
            done.append(" ".join(argv))
        if not done:
            return None
        return ("would run: " if self.dry_run else "ran: ") + "; ".join(done)

    def _runtime_state(self, entry: Entry) -> Optional[str]:
        keep = set(entry.get("keep") or [])
        removed: List[str] = []
        for node_path in entry.get("paths") or []:
            target = self.host(node_path)
            state = file_state(target)
            if state is None or node_path in keep:
                continue
            if stat.S_ISDIR(state.st_mode):
                if not self.dry_run:
                    for point in system.unmount_below(target):
                        self.out.progress("reset", f"unmounted {point}")
                    state = os.lstat(target)
                self._clear_dir(node_path, state.st_dev, keep, removed)
            else:
                if not self.dry_run:
                    os.unlink(target)
                removed.append(target)
        if not removed:
            return None
        verb = "would remove" if self.dry_run else "removed"
        shown = ", ".join(removed[:5]) + (f" and {len(removed) - 5} more" if len(removed) > 5 else "")
        return f"{verb} what the services created: {shown}"

    def _clear_dir(self, node_path: str, device: int, keep: Set[str], removed: List[str]) -> None:
        target = self.host(node_path)
        for name in sorted(os.listdir(target)):
            child_node = f"{node_path.rstrip('/')}/{name}"
            child = self.host(child_node)
            state = os.lstat(child)
            if stat.S_ISDIR(state.st_mode):
                if state.st_dev != device:
                    # A mounted volume (a pod's): never delete into another filesystem.
                    self.out.warn("reset", f"kept {child}: another filesystem is mounted there; unmount it and "
                                           "remove it yourself")
                    continue
                self._clear_dir(child_node, device, keep, removed)
                if child_node not in keep and not os.listdir(child):
                    if not self.dry_run:
                        os.rmdir(child)
                    removed.append(child)
            elif child_node not in keep:
                if not self.dry_run:
                    os.unlink(child)
                removed.append(child)
