"""``python -m edge_installer`` runs edgeadm from the source tree."""

import sys

from edge_installer.cli import main

sys.exit(main())
