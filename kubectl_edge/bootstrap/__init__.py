"""Bootstrap tokens and the join command (``kubectl edge token``)."""
