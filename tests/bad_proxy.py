"""A hostile network in front of a real server: errors, cut connections, trickled bytes.

Sits between the booth and nginx on 127.0.0.1 and forwards every GET (with its Range header),
misbehaving as told. The misbehaviour is the point, so this one is hand-made.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import urlsplit


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1, no log lines, and no Nagle delay between headers and body."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK hold each response ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        pass


Mode = Literal[
    "pass",
    "fail_every_other",
    "cut_clips",
    "cut_wheels",  # as cut_clips, for /targets/wheels/
    "trickle",  # the body of /targets/ files, 1 byte each `pause_s`
    "trickle_status",  # the status line of every response
    "trickle_headers",  # the headers of every response
    "trickle_redirect",  # a quick redirect to a response whose headers trickle
    "redirect_loop",  # redirects forever
]


class BadProxy:
    """`url` forwards to `upstream`; set `mode` at any time."""

    def __init__(
        self,
        upstream: str,
        mode: Mode = "pass",
        cut_after: int = 4096,
        pause_s: float = 1.0,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """`tls`: (certificate, key) PEM files to serve https instead of http."""
        self.upstream = urlsplit(upstream)
        self.mode: Mode = mode
        self.cut_after = cut_after
        self.pause_s = pause_s
        self.count = 0
        self.trickles_finished = 0  # trickled responses sent to the end
        self.trickles_cut = 0  # trickled responses the client hung up on
        self.seen: list[tuple[str, str]] = []  # (path, Range header)
        proxy = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                proxy.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        self.count += 1
        self.seen.append((req.path, req.headers.get("Range", "")))
        if self.mode == "fail_every_other" and self.count % 2 == 0:
            body = b"upstream trouble"
            req.send_response(500)
            req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            req.wfile.write(body)
            return
        if self.mode == "redirect_loop" or (
            self.mode == "trickle_redirect" and not req.path.startswith("/slow/")
        ):
            target = "/loop" + req.path if self.mode == "redirect_loop" else "/slow" + req.path
            req.send_response(302)
            req.send_header("Location", target)
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        host = self.upstream.hostname or "127.0.0.1"
        conn = http.client.HTTPConnection(host, self.upstream.port, timeout=10)
        headers = {"Range": req.headers["Range"]} if req.headers.get("Range") else {}
        conn.request("GET", req.path.removeprefix("/slow"), headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        if self.mode in ("trickle_status", "trickle_headers", "trickle_redirect"):
            self._trickle_head(req, resp, body)
            return
        req.send_response(resp.status)
        for name in ("Content-Type", "Content-Range", "Accept-Ranges"):
            if resp.getheader(name):
                req.send_header(name, resp.getheader(name) or "")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        try:
            cut = {"cut_clips": "/targets/clips/", "cut_wheels": "/targets/wheels/"}
            if self.mode in cut and cut[self.mode] in req.path:
                req.wfile.write(body[: self.cut_after])
                req.wfile.flush()
                req.close_connection = True
                req.connection.shutdown(2)
                return
            if self.mode == "trickle" and "/targets/" in req.path:
                for i in range(len(body)):
                    req.wfile.write(body[i : i + 1])
                    req.wfile.flush()
                    time.sleep(self.pause_s)
                self.trickles_finished += 1
                return
            req.wfile.write(body)
        except OSError:
            if self.mode == "trickle":
                self.trickles_cut += 1  # the booth hung up on us: that is what we test

    def _trickle_head(
        self, req: BaseHTTPRequestHandler, resp: http.client.HTTPResponse, body: bytes
    ) -> None:
        """The upstream's answer with its status line or headers sent 1 byte each `pause_s`."""
        status = f"HTTP/1.1 {resp.status} {'O' * 200}\r\n".encode()  # a long reason phrase
        head = [f"{n}: {v}\r\n" for n, v in resp.getheaders() if n.lower() != "connection"]
        head += [f"X-Padding-{i}: {'x' * 50}\r\n" for i in range(20)]
        headers = "".join(head).encode() + b"\r\n"
        slow_status = self.mode == "trickle_status"
        try:
            if not slow_status:
                req.wfile.write(status)
            for byte in status if slow_status else headers:
                req.wfile.write(bytes([byte]))
                req.wfile.flush()
                time.sleep(self.pause_s)
            req.wfile.write((headers if slow_status else b"") + body)
            req.wfile.flush()
        except OSError:
            self.trickles_cut += 1
            return
        self.trickles_finished += 1

    def start(self) -> BadProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> BadProxy:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class TrickleTls:
    """A TCP server on 127.0.0.1 that answers a TLS ClientHello with a handshake record that never
    ends: a 16 KiB record header, then one byte each `pause_s` (hand-made, like BadProxy)."""

    def __init__(self, pause_s: float = 0.1) -> None:
        self.pause_s = pause_s
        self.cut = 0  # handshakes the client hung up on
        self.finished = 0  # records sent to the end
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed by stop()
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(4096)  # the ClientHello
                conn.sendall(b"\x16\x03\x03\x40\x00")  # handshake record, TLS 1.2, 16384 bytes
                for _ in range(16384):
                    if self._stop.is_set():
                        return
                    conn.sendall(b"\x00")
                    time.sleep(self.pause_s)
            except OSError:
                self.cut += 1
                return
            self.finished += 1

    def __enter__(self) -> TrickleTls:
        self._thread.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept(); close() alone does not
        self._listener.close()
        self._thread.join(5)
