"""Exit codes of ``kubectl edge`` and ``edgeadm``; documented in both programs' help."""

SUCCESS = 0
#: Any failure kubectl itself would report with 1: bad kubeconfig, server error, unreachable cluster.
ERROR = 1
#: The command line is wrong (unknown flag, bad value).
USAGE = 2
#: A precondition or preflight check failed; nothing was changed.
PRECONDITION = 3
#: A wait ran out of time.
TIMEOUT = 4
#: Interrupted by the user (Ctrl-C).
INTERRUPTED = 130

EPILOG = (
    "Exit codes: 0 success, 1 error, 2 usage error, 3 precondition failed (nothing changed), "
    "4 timed out waiting, 130 interrupted."
)
