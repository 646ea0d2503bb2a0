"""Origin checks for the web pages' forms (pure ASGI middleware), on top of SameSite=Strict.

A POST (or any other unsafe method) to a page path, not /api/ (bearer tokens, no cookies),
must come from the hub's own pages: its Origin, or else its Referer's origin, is the origin
the request was sent to (scheme and Host, as uvicorn sees them behind a trusted proxy), and
Sec-Fetch-Site, if sent, is not "cross-site". Every WebSocket handshake is held to the same
rule (a page elsewhere could otherwise open one with the admin's cookie), except the relay's
/live/ intakes and booth feed, which take no cookie; a refused one is
closed before it is accepted, which the server answers with 403. Browsers send Origin with
every form POST and handshake; a request with neither Origin nor Referer is no browser's and
is let through (its credential would have to be in it). Refused: 403, before the form is read.

The pages send `Referrer-Policy: same-origin`: under `no-referrer` a browser sends
`Origin: null` even for the hub's own forms.
"""

from __future__ import annotations

import urllib.parse

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.asgi import respond

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def origin_of(url: str) -> str | None:
    parts = urllib.parse.urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def cross_origin(scope: Scope) -> str:
    """Why this request is not from the hub's own pages, or "" if it is (or is no browser's)."""
    headers = Headers(scope=scope)
    if headers.get("sec-fetch-site", "").lower() == "cross-site":
        return "Sec-Fetch-Site: cross-site"
    scheme = {"ws": "http", "wss": "https"}.get(scope.get("scheme", "http"), scope.get("scheme"))
    own = f"{scheme}://{headers.get('host', '')}".lower()
    origin = headers.get("origin")
    if origin is not None:
        return "" if origin.lower() == own else f"Origin {origin[:100]!r} is not {own!r}"
    referer = headers.get("referer")
    if referer is not None and origin_of(referer) != own:
        return f"Referer from another origin than {own!r}"
    return ""


class SameOrigin:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # /live/*: contact centers and booths, with signatures or bearer credentials, no cookies
        live = scope["path"].startswith("/live/")
        if scope["type"] == "websocket" and not live and cross_origin(scope):
            await send({"type": "websocket.close", "code": 1008})
            return
        if (
            scope["type"] == "http"
            and scope["method"] not in SAFE
            and not scope["path"].startswith("/api/")
        ):
            why = cross_origin(scope)
            if why:
                detail = f"403 Forbidden: a form of another site ({why})"
                await respond(send, 403, detail, json_body=False)
                return
        await self.app(scope, receive, send)
