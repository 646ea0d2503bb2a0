"""A wall-clock deadline over a whole HTTP request: connect, status line, headers, body, redirects.

requests and urllib3 only have a per-read timeout, which a server that sends one byte a second
never trips. `SocketGuard` watches every socket a session opens and, when the armed deadline
passes, shuts them down from its timer thread: a `recv` blocked in the sync thread returns at
once, whatever stage the response is in.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager
from urllib3.util.ssl_ import create_urllib3_context, resolve_cert_reqs, resolve_ssl_version

log = logging.getLogger(__name__)


class SocketGuard:
    """Shuts down the watched sockets once an armed deadline passes (on a timer thread)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._armed = 0  # which arm() a timer belongs to: a late timer of an old one does nothing
        self.tripped = False  # the last armed deadline passed and the sockets were shut

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def arm(self, deadline: float) -> None:
        """Shut every watched socket at `deadline` (the clock's time) unless disarmed first."""
        self.disarm()
        with self._lock:
            self.tripped = False
            delay = max(0.0, deadline - self._clock())
            timer = threading.Timer(delay, self._trip, (self._armed,))
            timer.daemon = True
            timer.name = "sync-deadline"
            self._timer = timer
        timer.start()

    def disarm(self) -> None:
        with self._lock:
            self._armed += 1
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _trip(self, armed: int) -> None:
        # Under the lock: once disarm() returns, no timer of an earlier arm() shuts anything.
        with self._lock:
            if armed != self._armed:
                return
            self.tripped = True
            log.info("deadline passed: shutting %d connection(s)", len(self._sockets))
            for sock in list(self._sockets):
                with contextlib.suppress(OSError):  # already closed, or detached into TLS
                    # socket.socket's own: SSLSocket.shutdown() would also drop its TLS state
                    # under the thread that is reading.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _pool_classes(guard: SocketGuard) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3 pool classes whose connections report each new socket to `guard`.

    A TLS connection's socket is watched from its handshake on: a guarded SSLSocket class, on a
    context made per connection just as urllib3 would make it (the default CA certificates
    unless a CA is given).
    """

    class GuardedSSLSocket(ssl.SSLSocket):
        def do_handshake(self, block: bool = False) -> None:
            guard.watch(self)
            super().do_handshake(block)

    class GuardedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            guard.watch(sock)
            return sock

    class GuardedHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            guard.watch(sock)  # while a proxy tunnel is set up; TLS then takes the socket over
            return sock

        def connect(self) -> None:
            if self.ssl_context is None:
                context = create_urllib3_context(
                    ssl_version=resolve_ssl_version(self.ssl_version),
                    ssl_minimum_version=self.ssl_minimum_version,
                    ssl_maximum_version=self.ssl_maximum_version,
                    cert_reqs=resolve_cert_reqs(self.cert_reqs),
                )
                if not (self.ca_certs or self.ca_cert_dir or self.ca_cert_data):
                    context.load_default_certs()
                context.sslsocket_class = GuardedSSLSocket
                self.ssl_context = context
            super().connect()

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    return {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}


class GuardedAdapter(HTTPAdapter):
    """requests' adapter, with every connection (direct or through a proxy) watched by `guard`."""

    def __init__(self, guard: SocketGuard) -> None:
        self._classes = _pool_classes(guard)
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self._guard_manager(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> PoolManager:
        manager: PoolManager = super().proxy_manager_for(proxy, **kwargs)
        self._guard_manager(manager)
        return manager

    def _guard_manager(self, manager: PoolManager) -> None:
        # A SOCKS proxy manager has pool classes of its own: left as they are (unguarded).
        if manager.pool_classes_by_scheme.get("http") is HTTPConnectionPool:
            manager.pool_classes_by_scheme = dict(self._classes)
