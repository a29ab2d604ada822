"""``python -m kubectl_edge`` runs the plugin as ``kubectl-edge``."""

from kubectl_edge.cli.app import main

main()
