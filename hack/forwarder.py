"""A TCP forwarder: the API server seen at another address, like a NAT in front of a real control plane.

The local API server listens on 127.0.0.1 and its certificate names 127.0.0.1 only; a forwarder on
127.0.0.2 or on a test host's gateway address (198.18.x.y) lets clients reach it by an address the
certificate does not name. Bytes are copied as they are, so TLS runs end to end.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Iterator


class Forwarder:
    """Accept on (listen_host, listen_port) and relay each connection to (target_host, target_port)."""

    def __init__(self, listen_host: str, listen_port: int, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server((listen_host, listen_port), reuse_port=False)
        self.listener.settimeout(0.2)
        self.address = self.listener.getsockname()[:2]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="forwarder-accept", daemon=True)

    def start(self) -> Forwarder:
        """Start accepting in a background thread."""
        self._acceptor.start()
        return self

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            relay = threading.Thread(target=self._relay, args=(client,), daemon=True)
            relay.start()
            self._threads.append(relay)

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:
            client.close()
            return
        with client, upstream, selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ, upstream)
            selector.register(upstream, selectors.EVENT_READ, client)
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.5):
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    try:
                        data = source.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    try:
                        key.data.sendall(data)
                    except OSError:
                        return

    def stop(self) -> None:
        """Stop accepting and end every relay."""
        self._stop.set()
        self.listener.close()
        self._acceptor.join(timeout=2)
        for relay in self._threads:
            relay.join(timeout=2)


@contextlib.contextmanager
def forwarding(listen_host: str, listen_port: int, target_host: str, target_port: int) -> Iterator[Forwarder]:
    """A running forwarder for the duration of a ``with`` block."""
    forwarder = Forwarder(listen_host, listen_port, target_host, target_port).start()
    try:
        yield forwarder
    finally:
        forwarder.stop()
