"""hub.origin holds WebSocket handshakes to the page's origin, under real uvicorn (wsproto):
the hub has no WebSocket route yet, so a small app behind the same middleware stands in."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from hub.origin import SameOrigin
from tests.nginx import free_port


async def hello(ws: WebSocket) -> None:
    await ws.accept()
    await ws.send_text("hello")
    await ws.close()


@pytest.fixture
def server() -> Iterator[int]:
    port = free_port()
    app = SameOrigin(Starlette(routes=[WebSocketRoute("/ws", hello)]))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, ws="wsproto", log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, name="ws-origin-server")
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield port
    finally:
        running.should_exit = True
        thread.join(timeout=10)


def handshake(port: int, origin: str | None) -> str:
    """The status line the server answers a WebSocket handshake from `origin` with."""
    lines = [
        "GET /ws HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return conn.recv(4096).decode("latin-1").split("\r\n")[0]


def test_a_websocket_from_another_origin_is_refused(server: int) -> None:
    assert handshake(server, f"http://127.0.0.1:{server}").startswith("HTTP/1.1 101")
    assert handshake(server, None).startswith("HTTP/1.1 101")  # no browser's
    for evil in ("https://evil.example", "null", f"https://127.0.0.1:{server}"):
        assert handshake(server, evil).startswith("HTTP/1.1 403"), evil
