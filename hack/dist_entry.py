"""Entry script of the frozen (PyInstaller) kubectl-edge in the krew archive.

The same executable serves as ``kubectl-edge`` and, through a symlink named ``kubectl_complete-edge`` that
``kubectl edge completion install`` writes, as the completion helper kubectl runs for ``kubectl edge <TAB>``.
"""

from __future__ import annotations

import os
import sys

if os.path.basename(sys.argv[0]).startswith("kubectl_complete-"):
    from kubectl_edge.cli.commands.completion import main
else:
    from kubectl_edge.cli.app import main

main()
