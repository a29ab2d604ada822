"""Edge nodes from the cluster's side: ``kubectl edge node delete``, ``installer`` and ``package build``."""
