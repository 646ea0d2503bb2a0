"""A whole small answer sent straight from a pure ASGI middleware (no response object)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.types import Send


async def respond(
    send: Send,
    status: int,
    detail: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
    json_body: bool = True,
) -> None:
    """`{"detail": detail}` as JSON (or `detail` as plain text) with `status`."""
    if json_body:
        body, kind = json.dumps({"detail": detail}).encode(), b"application/json"
    else:
        body, kind = detail.encode(), b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
