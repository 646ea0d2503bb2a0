"""A cap on every request body, enforced before anything parses it (pure ASGI middleware).

A declared Content-Length over the cap is answered 413 at once, unread; a body streamed without
one is counted as it arrives and cut off at the cap, also with 413. The cap depends
on the path (`limit_for`): uploads of clips are large, everything else is small.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.asgi import respond
from kiosk.fleet.records import MAX_BATCH_BYTES, MAX_HEARTBEAT_BYTES

LimitFor = Callable[[str, str], int]  # (method, path) -> bytes


class BodyLimit:
    def __init__(self, app: ASGIApp, limit_for: LimitFor) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await too_large(send, limit)
            return
        seen = 0
        over = started = False

        async def counted() -> Message:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # The app stops reading as if the client left; whatever it answers
                    # (400, 500) becomes the 413 below.
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if over:
                if not started:
                    started = True
                    await too_large(send, limit)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except Exception:
            if not over:
                raise
        if over and not started:
            await too_large(send, limit)


async def too_large(send: Send, limit: int) -> None:
    detail = f"request body larger than {limit} bytes"
    await respond(send, 413, detail, [(b"connection", b"close")])


DEFAULT_BODY_BYTES = 64 * 1024  # logins, enrollments, admin calls
PUBLISH_BODY_BYTES = 32 * 1024 * 1024  # signed targets metadata: ~300 bytes a clip


def hub_limits(max_upload_bytes: int) -> LimitFor:
    """The hub's caps: clip uploads up to `max_upload_bytes`, event batches and heartbeats as
    kiosk.fleet.records says, everything else DEFAULT_BODY_BYTES."""

    def limit_for(method: str, path: str) -> int:
        if path.startswith("/api/v1/targets/"):
            return max_upload_bytes
        return {
            "/api/v1/publish": PUBLISH_BODY_BYTES,
            "/api/v1/events": MAX_BATCH_BYTES,
            "/api/v1/heartbeat": MAX_HEARTBEAT_BYTES,
        }.get(path, DEFAULT_BODY_BYTES)

    return limit_for
