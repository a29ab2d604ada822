"""A TCP forwarder: the API server seen at another address, like a NAT in front of a real control plane.

The local API server listens on 127.0.0.1 and its certificate names 127.0.0.1 only; a forwarder on
127.0.0.2, or on a test host's gateway address (198.18.x.y), lets clients reach it by an address the
certificate does not name. Bytes are copied as they are, so TLS runs end to end. Only loopback and the
test-host range 198.18.0.0/15 are accepted, so nothing can be forwarded beyond the machine by mistake.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time

_ALLOWED = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("198.18.0.0/15"))


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy one direction of a connection until it ends, then pass the end on."""
    with contextlib.suppress(OSError):
        while True:
            chunk = source.recv(65536)
            if not chunk:
                break
            sink.sendall(chunk)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)  # the other direction keeps flowing until its own end


class Forwarder:
    """Forward connections from ``listen_host:listen_port`` (a free port when 0) to ``target_host:target_port``.

    Use it as a context manager, or call ``start``/``stop``. ``host``, ``port``, ``address`` (``host:port``)
    and ``connections`` (accepted so far) describe the running forwarder; ``upstream_errors`` says why any
    connection to the target failed.
    """

    def __init__(self, target_host: str, target_port: int, listen_host: str = "127.0.0.2",
                 listen_port: int = 0) -> None:
        for host in (listen_host, target_host):
            if not any(ipaddress.ip_address(host) in network for network in _ALLOWED):
                raise ValueError(f"the forwarder only joins loopback and 198.18.0.0/15 addresses, not {host}")
        self.target = (target_host, target_port)
        self.host = listen_host
        self.port = listen_port
        self.connections = 0
        #: why connections to the target failed (each attempt), for a test's failure message
        self.upstream_errors: list[str] = []
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def retarget(self, target_host: str, target_port: int) -> None:
        """Send the connections accepted from now on to another target (as kube-proxy follows a Service's
        endpoints); relayed connections stay where they are."""
        if not any(ipaddress.ip_address(target_host) in network for network in _ALLOWED):
            raise ValueError(f"the forwarder only joins loopback and 198.18.0.0/15 addresses, not {target_host}")
        self.target = (target_host, target_port)

    @property
    def address(self) -> str:
        """``host:port`` as a join command writes it."""
        return f"{self.host}:{self.port}"

    def start(self) -> Forwarder:
        """Listen, and accept in a background thread."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(64)
        self._listener = listener
        self.port = int(listener.getsockname()[1])
        acceptor = threading.Thread(target=self._serve, args=(listener,), daemon=True)
        self._threads.append(acceptor)
        acceptor.start()
        return self

    def _serve(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed: the forwarder is stopping
            upstream = self._connect_upstream()
            if upstream is None:
                client.close()
                continue
            with self._lock:
                self.connections += 1
                self._sockets += [client, upstream]
                for source, sink in ((client, upstream), (upstream, client)):
                    pump = threading.Thread(target=_pump, args=(source, sink), daemon=True)
                    self._threads.append(pump)
                    pump.start()

    def _connect_upstream(self) -> socket.socket | None:
        """A connection to the target, tried three times over about half a second (a NAT in front of a busy
        server does not give up on its first refused SYN); None, with the reasons kept, when all fail."""
        for attempt in range(3):
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
                return upstream
            except OSError as exc:
                self.upstream_errors.append(f"{self.target[0]}:{self.target[1]}: {exc}")
                if attempt < 2:
                    time.sleep(0.25)
        return None

    def drop_connections(self) -> None:
        """Close every relayed connection and keep listening, as a server does with idle connections."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def stop(self) -> None:
        """Close the listener and every relayed connection."""
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=5)

    def __enter__(self) -> Forwarder:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
