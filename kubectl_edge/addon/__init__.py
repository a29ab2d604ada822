"""Preparing a cluster for edge nodes (``kubectl edge addon``) and undoing it (``kubectl edge detach``)."""
