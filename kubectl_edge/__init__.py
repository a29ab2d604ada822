"""kubectl-edge: give an existing Kubernetes cluster SuperEdge's edge capability."""

__version__ = "0.1.0"
