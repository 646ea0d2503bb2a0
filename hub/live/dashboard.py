"""`GET /dashboard/live`: live calls now, the booths listening, and the minutes listened to
live calls by source over the last N days (the booths' `live_end` events). Admin login as for
the other pages (hub.webauth)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from hub import stats
from hub.dashboard import HEADERS
from hub.live.relay import Relay
from hub.webauth import COOKIE, AdminSessions


def minutes_by_source(db: stats.Reader, since: float) -> dict[str, float]:
    """Minutes listened to live calls since `since` (Unix s), by `source` (sip before the
    field existed)."""
    minutes: dict[str, float] = {}
    for body, listened in db.query(
        "SELECT body, listened_ms FROM events WHERE event = 'live_end' AND at >= ?", (since,)
    ):
        try:
            source = str(json.loads(body).get("source") or "sip")
        except (ValueError, AttributeError):
            source = "sip"
        minutes[source] = minutes.get(source, 0.0) + (listened or 0) / 60000
    return dict(sorted(minutes.items()))


def live_dashboard_router(
    relay: Relay, db: stats.Reader, sessions: AdminSessions, clock: Callable[[], float]
) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    env = Environment(
        loader=PackageLoader("hub", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )

    @router.get("/dashboard/live")
    def live(request: Request, days: Annotated[int, Query(ge=1, le=366)] = 14) -> Response:
        if not sessions.valid(request.cookies.get(COOKIE)):
            return RedirectResponse("/login", status_code=303, headers=HEADERS)
        _, since = stats.day_window(clock(), days)
        snapshot: dict[str, Any] = relay.snapshot()
        html = env.get_template("live.html").render(
            days=days, live=snapshot, minutes=minutes_by_source(db, since)
        )
        return HTMLResponse(html, headers=HEADERS)

    return router
