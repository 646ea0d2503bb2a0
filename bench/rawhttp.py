"""A minimal HTTP/1.1 client on asyncio streams for load generation: a few microseconds of
CPU per request, so the generator does not compete with the hub it measures for the same
cores (httpx's async client needed ~7 ms of CPU per request here)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bench.common import BenchError


class Connection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(
        self, host: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]
    ) -> int:
        """POST `body` as JSON (GET if None); the response's status (its body is dropped)."""
        data = b"" if body is None else json.dumps(body).encode()
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        if body is None:
            head = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{head}\r\n"
        else:
            head = (
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n{head}\r\n"
            )
        self.writer.write(head.encode() + data)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if length is None:
            raise BenchError(f"POST {path}: a response without Content-Length")
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


class Pool:
    """At most `size` connections to host:port, opened as needed and reused."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port = host, port
        self._host = f"{host}:{port}"
        self._idle: list[Connection] = []
        self._slots = asyncio.Semaphore(size)

    async def request(
        self,
        path: str,
        body: dict[str, Any] | None,
        headers: dict[str, str],
        reuse: bool = True,
    ) -> int:
        """POST `body` as JSON (GET if None) on an idle or a new connection; the status."""
        async with self._slots:
            conn = self._idle.pop() if self._idle and reuse else None
            if conn is not None:
                try:
                    status = await conn.request(self._host, path, body, headers)
                except (asyncio.IncompleteReadError, ConnectionError):
                    conn.close()  # the server closed it while idle (keep-alive timeout)
                else:
                    self._idle.append(conn)
                    return status
            conn = Connection(*await asyncio.open_connection(self.host, self.port))
            try:
                status = await conn.request(self._host, path, body, headers)
            except BaseException:
                conn.close()
                raise
            if reuse:
                self._idle.append(conn)
            else:
                conn.close()
            return status

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
