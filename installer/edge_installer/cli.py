"""edgeadm's command line (argparse): ``join``, ``join phase NAME``, ``reset``, ``version``.

Only argparse and the phase names are imported before a command runs, so ``edgeadm --help`` stays quick
even though a zipapp compiles every module it imports at each start.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from typing import TYPE_CHECKING, FrozenSet, Iterator, List, NoReturn, Optional

from edge_installer import PROGRAM, __version__
from edge_installer.errors import Aborted, InstallerError, PreconditionError, UsageError
from edge_installer.phases import PHASE_NAMES, describe
from edge_protocol import exitcodes
from edge_protocol.contract import CLOUD_NODE_LABEL, ENABLED

if TYPE_CHECKING:
    from edge_installer.config import JoinOptions

JOIN_HELP = (
    f"Join this machine to a Kubernetes cluster as an edge node.\n\n"
    f"  {PROGRAM} join API_SERVER[:PORT] --token ID.SECRET --discovery-token-ca-cert-hash sha256:HASH "
    f"[--install-pkg-path PATH|URL]\n\n"
    "Paste the line kubectl edge token create --print-join-command printed. Phases, in order (skip some with "
    f"--skip-phases, run one with '{PROGRAM} join phase NAME ...'):\n"
)
EPILOG = (
    f"Every change is journaled in /var/lib/edgeadm/journal.json before it is made; '{PROGRAM} reset' undoes them "
    f"all. {exitcodes.EPILOG}"
)


class _Parser(argparse.ArgumentParser):
    """argparse with edgeadm's usage-error format and exit code."""

    def error(self, message: str) -> NoReturn:
        """Print the usage and the problem; exit with the usage-error code."""
        self.print_usage(sys.stderr)
        sys.stderr.write(f"error: {message}\n")
        sys.exit(exitcodes.USAGE)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", metavar="DIR", help="treat DIR as the node's root directory (tests, image builds); "
                        "the root user check is off then")
    parser.add_argument("--dry-run", action="store_true", help="print every file, line and command it would write "
                        "or run; change nothing")
    parser.add_argument("-v", "--v", dest="verbosity", type=int, default=0, metavar="N",
                        help="log level: 4 shows debug lines and tracebacks")


def _add_join_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("endpoint", metavar="API_SERVER[:PORT]", help="the API server address (default port 6443)")
    parser.add_argument("--token", required=True, metavar="ID.SECRET", help="the bootstrap token")
    parser.add_argument("--discovery-token-ca-cert-hash", dest="pins", action="append", default=[],
                        metavar="sha256:HASH", help="pin of the cluster CA (repeatable, one per CA)")
    parser.add_argument("--discovery-token-unsafe-skip-ca-verification", dest="unsafe", action="store_true",
                        help="trust whatever CA the signed cluster-info names (anyone with the token could pose as "
                        "the cluster)")
    parser.add_argument("--install-pkg-path", metavar="PATH|URL", help="the static install package (local file, "
                        "https:// URL, or http:// and ftp:// with --install-pkg-sha256)")
    parser.add_argument("--install-pkg-sha256", metavar="HEX", help="expected sha256 of the install package")
    parser.add_argument("--node-name", metavar="NAME", help="the node's name (default: the host name)")
    parser.add_argument("--node-labels", default="", metavar="K=V,...", help="extra node labels")
    parser.add_argument("--cri-socket", metavar="PATH|URL", help="container runtime endpoint (default "
                        "unix:///run/containerd/containerd.sock)")
    parser.add_argument("--cloud", action="store_true", help="join a cloud (non-edge) node: label "
                        f"{CLOUD_NODE_LABEL}={ENABLED}, no lite-apiserver")
    parser.add_argument("--no-autonomy", action="store_true", help="do not set up lite-apiserver even when the package "
                        "and the cluster offer it")
    parser.add_argument("--skip-phases", default="", metavar="PHASE,...", help="phases to skip: " +
                        ", ".join(PHASE_NAMES))
    parser.add_argument("--ignore-preflight-errors", default="", metavar="CHECK,...",
                        help="preflight checks whose failure only warns (or 'all')")
    parser.add_argument("--timeout", type=float, default=240.0, metavar="SECONDS",
                        help="how long start waits for TLS bootstrap and node registration")
    _add_common(parser)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of edgeadm."""
    parser = _Parser(prog=PROGRAM, description="edgeadm: join this machine to a Kubernetes cluster as an edge node, "
                     "and undo it.", epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"{PROGRAM} v{__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    join = commands.add_parser("join", help="join this machine to a cluster", description=JOIN_HELP + describe(),
                               epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_join_flags(join)
    reset = commands.add_parser("reset", help="undo what join did, from its journal", epilog=EPILOG,
                                description="Undo everything join journaled, newest first: stop and disable what it "
                                "started, remove the files it created, restore the files it replaced byte for byte, "
                                "remove its /etc/hosts block. Idempotent and resumable.")
    reset.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    _add_common(reset)
    commands.add_parser("version", help="print edgeadm's version")
    return parser


def build_phase_parser() -> argparse.ArgumentParser:
    """The parser of ``edgeadm join phase NAME ...``."""
    parser = _Parser(prog=f"{PROGRAM} join phase", description="Run one phase of join; the phases before it are "
                     "not run, but what it needs from them (discovery, the package) is computed.\n\n" + describe(),
                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    parser.add_argument("phase", choices=PHASE_NAMES, metavar="PHASE")
    _add_join_flags(parser)
    return parser


def _split(text: str) -> FrozenSet[str]:
    return frozenset(item.strip() for item in text.split(",") if item.strip())


def join_options(args: argparse.Namespace) -> JoinOptions:
    """Validate join's flags into options.

    Raises:
        UsageError: A flag's value is malformed, or flags contradict each other.
    """
    from edge_installer import system
    from edge_installer.config import DEFAULT_CRI_SOCKET, JoinOptions, parse_labels
    from edge_protocol.capin import parse_pin
    from edge_protocol.errors import ProtocolError
    from edge_protocol.network import parse_endpoint
    from edge_protocol.token import parse_token

    try:
        host, port = parse_endpoint(args.endpoint)
        token = parse_token(args.token)
        pins = [parse_pin(pin) for pin in args.pins]
    except ProtocolError as exc:
        raise UsageError(exc.message, exc.hint) from None
    if not pins and not args.unsafe:
        raise UsageError("--discovery-token-ca-cert-hash is required: it proves this node talks to your cluster",
                         "copy it from kubectl edge token create --print-join-command, or pass "
                         "--discovery-token-unsafe-skip-ca-verification (unsafe)")
    digest = args.install_pkg_sha256
    if digest is not None and (len(digest) != 64 or not all(c in "0123456789abcdefABCDEF" for c in digest)):
        raise UsageError(f"--install-pkg-sha256 {args.install_pkg_sha256!r} is not 64 hex digits")
    if args.install_pkg_sha256 is not None and not args.install_pkg_path:
        raise UsageError("--install-pkg-sha256 needs --install-pkg-path")
    from edge_installer.package import url_problem

    problem = url_problem(args.install_pkg_path, args.install_pkg_sha256) if args.install_pkg_path else None
    if problem:
        raise UsageError(problem, "pass --install-pkg-sha256 with the package's sha256 (kubectl edge token create "
                                  "--print-join-command --install-pkg-path FILE prints it), or use an https:// URL")
    skip = _split(args.skip_phases)
    from edge_installer.workflow import check_phase_names

    check_phase_names(skip, "--skip-phases")
    root = os.path.abspath(args.root) if args.root else "/"
    if args.root and not os.path.isdir(root):
        raise UsageError(f"--root {args.root} is not a directory")
    return JoinOptions(
        host=host, port=port, token=token, pins=pins, node_name=args.node_name or system.hostname(), root=root,
        root_given=bool(args.root), install_pkg_path=args.install_pkg_path,
        install_pkg_sha256=args.install_pkg_sha256.lower() if args.install_pkg_sha256 else None,
        node_labels=parse_labels(args.node_labels), cri_socket=args.cri_socket or DEFAULT_CRI_SOCKET,
        cloud=args.cloud, no_autonomy=args.no_autonomy, skip_phases=skip,
        ignore_preflight_errors=_split(args.ignore_preflight_errors), dry_run=args.dry_run, timeout=args.timeout)


def _join(args: argparse.Namespace, only: Optional[str]) -> int:
    from edge_installer.join import run_join
    from edge_installer.output import Output

    options = join_options(args)
    out = Output(args.verbosity)
    try:
        with _node_lock(options.root, options.dry_run):
            run_join(options, out, only)
    except InstallerError as exc:
        from edge_installer.journal import journal_path

        if not options.dry_run and os.path.exists(journal_path(options.root)):
            exc.exit_code = exitcodes.ERROR if exc.exit_code == exitcodes.PRECONDITION else exc.exit_code
            exc.hint = (exc.hint + "; " if exc.hint else "") + f"{PROGRAM} reset undoes what join changed so far"
        raise
    if only is None and "start" in options.skip_phases and not options.dry_run:
        out.data("\nThe files are in place; kubelet was not started (phase start skipped). Start it with:\n"
                 "  systemctl daemon-reload && systemctl enable --now kubelet\n")
    return exitcodes.SUCCESS


def _reset(args: argparse.Namespace) -> int:
    from edge_installer import system
    from edge_installer.output import Output
    from edge_installer.reset import run_reset

    root = os.path.abspath(args.root) if args.root else "/"
    if not args.root and not args.dry_run and not system.is_root():
        raise PreconditionError("edgeadm reset must run as root (it removes files under /etc and /var/lib)",
                                "run it with sudo, or pass --root DIR for a node root you own")
    if not args.force and not args.dry_run:
        sys.stderr.write(f"[reset] {PROGRAM} reset undoes every change join made to {root}. Proceed? [y/N] ")
        sys.stderr.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise Aborted("reset aborted; nothing was changed", "pass --force to skip the question")
    with _node_lock(root, args.dry_run):
        run_reset(root, Output(args.verbosity), args.dry_run)
    return exitcodes.SUCCESS


@contextlib.contextmanager
def _node_lock(root: str, dry_run: bool) -> Iterator[None]:
    """One join or reset at a time on a node root: their journals would interleave otherwise.

    Raises:
        PreconditionError: Another edgeadm join or reset holds the lock.
    """
    if dry_run:
        yield  # a dry run changes nothing
        return
    from edge_installer.fsutil import LockBusy, exclusive_lock

    # The lock is on the node's /var/lib (where the journal lives) when it exists: one per machine, and one per
    # node where nodes share a root directory but not their /var/lib (containers, simulated nodes).
    where = next((path for path in (os.path.join(root, "var", "lib"), os.path.join(root, "var")) if
                  os.path.isdir(path) and not os.path.islink(path)), root)
    try:
        with exclusive_lock(where, wait=False):
            yield
    except LockBusy:
        raise PreconditionError(f"another {PROGRAM} join or reset is running on {root}; nothing was changed",
                                "wait for it to finish, then run this again") from None


def _report(exc: InstallerError) -> None:
    where = f"[{exc.phase}] " if exc.phase else ""
    sys.stderr.write(f"error: {where}{exc.message}\n")
    if exc.hint:
        sys.stderr.write(f"hint: {exc.hint}\n")
    sys.stderr.flush()


def main(argv: Optional[List[str]] = None) -> int:
    """Run edgeadm with ``argv`` (default: the process's arguments); return the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    verbosity = 0
    try:
        if len(arguments) >= 2 and arguments[0] == "join" and arguments[1] == "phase":
            args = build_phase_parser().parse_args(arguments[2:])
            verbosity = args.verbosity
            return _join(args, args.phase)
        args = build_parser().parse_args(arguments)
        verbosity = getattr(args, "verbosity", 0)
        if args.command == "version":
            sys.stdout.write(f"{PROGRAM} v{__version__}\n")
            return exitcodes.SUCCESS
        if args.command == "reset":
            return _reset(args)
        return _join(args, None)
    except InstallerError as exc:
        if verbosity >= 4:
            traceback.print_exc()
        _report(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return exitcodes.INTERRUPTED
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else exitcodes.ERROR
    except Exception as exc:
        if verbosity >= 4:
            traceback.print_exc()
        sys.stderr.write(f"error: unexpected {type(exc).__name__}: {exc}\nhint: re-run with -v 4 for the traceback\n")
        return exitcodes.ERROR
