"""edgeadm: joins a machine to a Kubernetes cluster as an edge node, and resets it (standard library only).

Built into one executable zipapp by ``installer/build.py``; runs on every CPython from 3.8 on.
"""

#: Kept equal to kubectl_edge.__version__ (a unit test checks it); the zipapp has no other source of it.
__version__ = "0.1.0"
PROGRAM = "edgeadm"
