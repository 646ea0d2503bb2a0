"""The hub's web pages for admins, behind a login (hub.webauth), rendered on the server.

    GET  /login, POST /login (form field `token`: the admin token) -> session cookie
    POST /logout
    GET  /dashboard                  booths: online, offline or revoked, problems first, each
                                     with its software version and update state; the
                                     fleet's versions and each channel's rollout (hub.rollout)
    GET  /dashboard/clips?days=N     sets and clips by plays, listen-through and "changed my
                                     view" (dial ratings), where people hang up,
                                     lifts per day per booth, live against clips (last N days)

Pages are Jinja2 templates (hub/templates/, autoescaped) with inline SVG charts, no script.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from hub import rollout, stats
from hub.charts import bar_chart
from hub.webauth import COOKIE, AdminSessions
from kiosk.release.manifest import Channels

Clock = Callable[[], float]
MAX_BOOTH_ROWS = 500
TOP_CLIPS = 20
MIN_PLAYS_FOR_RANK = 5  # listen-through ranks only clips played at least this often
HISTOGRAM_CLIPS = 8
LIFT_CHART_BOOTHS = 12
BUCKET_S = 5  # the hang-up histogram: BUCKETS bars of BUCKET_S seconds, the last open-ended
BUCKETS = 12
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # not no-referrer: forms then send Origin: null
}


def ago(t: float | None, now: float) -> str:
    """ "12 s ago", "5 min ago", "3 h ago", "2 d ago", or "never"."""
    if t is None:
        return "never"
    s = max(now - t, 0)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"{s // size:.0f} {unit} ago"
    return f"{s:.0f} s ago"


def utc(t: float | None) -> str:
    if t is None:
        return ""
    try:
        return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):  # a time no clock shows: never a failed page
        return "?"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("hub", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["utc"] = utc
    env.filters["pct"] = lambda x: f"{100 * x:.0f} %"
    return env


def _hangup_shares(clip: stats.ClipStats) -> list[float]:
    """Each bucket's share of the clip's plays, then the share heard to the end (percent)."""
    return [100 * n / max(clip.plays, 1) for n in (*clip.hangups, clip.finished)]


def _hangup_chart(clip: stats.ClipStats, top: float) -> Markup:
    """Plays ended early by seconds listened (red), then plays heard to the end (green), as
    shares of the clip's plays on a scale to `top` percent shared by every clip's chart."""
    labels = [f"{i * BUCKET_S}-{(i + 1) * BUCKET_S} s" for i in range(len(clip.hangups) - 1)]
    labels += [f"{(len(clip.hangups) - 1) * BUCKET_S} s or more", "to the end"]
    return bar_chart(
        _hangup_shares(clip),
        labels,
        title=f"where listeners of {clip.title or clip.clip} hung up",
        colours=["#c0504d"] * len(clip.hangups) + ["#4f9a4f"],
        top=top,
        unit=" %",
    )


def _hangup_charts(clips: list[stats.ClipStats]) -> list[tuple[stats.ClipStats, Markup]]:
    top = max((max(_hangup_shares(c)) for c in clips), default=100.0)
    return [(c, _hangup_chart(c, top)) for c in clips]


def _lift_charts(
    db: stats.Reader, since: float, first_day: int, days: int
) -> tuple[Markup, int, list[tuple[str, int, Markup]], int]:
    """The fleet's lifts per day, its total, the busiest booths' (name, total, chart), and how
    many booths with lifts are left out."""
    days_list = list(range(first_day, first_day + days))
    day_labels = [utc(d * stats.DAY_S)[5:10] for d in days_list]
    per_booth = stats.lifts_per_day(db, since)
    fleet = [sum(d.get(day, 0) for d in per_booth.values()) for day in days_list]
    top = sorted(per_booth.items(), key=lambda kv: -sum(kv[1].values()))[:LIFT_CHART_BOOTHS]
    names = stats.booth_names(db, [booth_id for booth_id, _ in top])
    # One scale for the small multiples: a booth with 37 lifts must not look like one with 324.
    scale = max((n for _, counts in top for n in counts.values()), default=1)
    charts = []
    for booth_id, counts in top:
        name = names.get(booth_id, booth_id)
        chart = bar_chart(
            [counts.get(day, 0) for day in days_list],
            day_labels,
            title=f"lifts per day at {name}",
            width=240,
            height=70,
            top=scale,
        )
        charts.append((name, sum(counts.values()), chart))
    fleet_chart = bar_chart(fleet, day_labels, title="lifts per day, all booths", width=480)
    return fleet_chart, sum(fleet), charts, len(per_booth) - len(top)


def dashboard_router(
    db: stats.Reader,
    sessions: AdminSessions,
    clock: Clock,
    clip_lengths: Callable[[], dict[tuple[str, str], float]] = dict,
    channels: Callable[[], Channels | None] = lambda: None,
) -> APIRouter:
    """The pages; `clock` gives Unix seconds (a test may move it); `clip_lengths()` gives
    (set, clip file) -> seconds for the published clips, `channels()` the signed release
    channels, or None (hub.content)."""
    router = APIRouter(include_in_schema=False)
    env = _environment()

    def page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status_code, headers=HEADERS)

    def logged_in(request: Request) -> bool:
        return sessions.valid(request.cookies.get(COOKIE))

    def to_login() -> Response:
        return RedirectResponse("/login", status_code=303, headers=HEADERS)

    @router.get("/login")
    def login_form(request: Request) -> Response:
        if logged_in(request):
            return RedirectResponse("/dashboard", status_code=303)
        return page("login.html")

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))
        session_id = sessions.login(form.get("token", [""])[0].strip())
        if session_id is None:
            return page("login.html", status_code=401, error="That is not an admin token.")
        resp = RedirectResponse("/dashboard", status_code=303, headers=HEADERS)
        resp.set_cookie(
            COOKIE,
            session_id,
            max_age=int(sessions.lifetime_s),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return resp

    @router.post("/logout")
    def logout(request: Request) -> Response:
        sessions.logout(request.cookies.get(COOKIE))
        resp = to_login()
        resp.delete_cookie(COOKIE, httponly=True, samesite="strict")
        return resp

    @router.get("/dashboard")
    def booths(request: Request) -> Response:
        if not logged_in(request):
            return to_login()
        now = clock()
        rows = stats.booth_statuses(db, now)
        counts = {state: 0 for state in stats.BoothState}
        for b in rows:
            counts[b.state] += 1
        return page(
            "booths.html",
            now=now,
            ago=ago,
            booths=rows[:MAX_BOOTH_ROWS],
            hidden=max(len(rows) - MAX_BOOTH_ROWS, 0),
            total=len(rows),
            counts=counts,
            problems=sum(1 for b in rows if b.problems and b.state is not stats.BoothState.REVOKED),
            software=rollout.software(db, channels()),
            in_progress=rollout.IN_PROGRESS,
        )

    @router.get("/dashboard/clips")
    def clips(request: Request, days: Annotated[int, Query(ge=1, le=366)] = 14) -> Response:
        if not logged_in(request):
            return to_login()
        now = clock()
        first_day, since = stats.day_window(now, days)
        all_clips = stats.clip_stats(db, since, bucket_s=BUCKET_S, buckets=BUCKETS)
        by_plays = stats.with_titles(db, all_clips[:TOP_CLIPS])
        ranked = [c for c in all_clips if c.plays >= MIN_PLAYS_FOR_RANK]
        ranked.sort(key=lambda c: (-c.listen_through, -c.plays, c.clip))
        by_through = stats.with_titles(db, ranked[:TOP_CLIPS])
        fleet_chart, fleet_lifts, lift_charts, more = _lift_charts(db, since, first_day, days)
        return page(
            "clips.html",
            days=days,
            by_plays=by_plays,
            by_through=by_through,
            min_plays=MIN_PLAYS_FOR_RANK,
            histograms=_hangup_charts(by_plays[:HISTOGRAM_CLIPS]),
            lengths=clip_lengths(),
            fleet_chart=fleet_chart,
            fleet_lifts=fleet_lifts,
            lift_charts=lift_charts,
            more_booths=more,
            share=stats.listen_share(db, since),
            sets=stats.set_stats(db, since),
        )

    return router
