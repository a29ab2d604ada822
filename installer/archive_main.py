# edgeadm's entry point inside the zipapp. It must stay parsable by every Python (2.7 and 3.6 included) so
# that old interpreters get one line instead of a SyntaxError: no f-strings, no annotations, no __future__.
import sys

if sys.version_info < (3, 8):
    sys.stderr.write("edgeadm: error: Python 3.8+ is required (found %d.%d)\n" % tuple(sys.version_info[:2]))
    sys.exit(3)

from edge_installer.cli import main

sys.exit(main())
