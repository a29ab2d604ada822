"""Edge nodes seen from the cluster (``kubectl edge status``, ``kubectl edge node``)."""
