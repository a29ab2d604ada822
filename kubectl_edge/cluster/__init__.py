"""The only layer that talks to the Kubernetes API; it imports the ``kubernetes`` client lazily."""
