"""The console's pages: sets and their history, listening, consent and the audit log.

    GET /console/sets                     every set: version, clips, groups that play it
    GET /console/sets/{name}?a=V&b=W      versions (who, when), what changed from V to W, clips
                                          (duration, speaker, consent expiry, plays), retired
                                          clips, groups, the set's audit entries
    GET /console/sets/{name}/audio/{file} the clip's Opus target, for the page's <audio>
    GET /console/consent                  the consent register (with the booths that reported
                                          deleting each clip), and expiry within 30 days
    GET /console/audit                    every change: who, what, when

Read-only, behind the admin's login (hub.webauth). Changes go through the signed command line
(`kiosk-admin`), since the hub never holds the targets key; the pages say so.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from hub import audit, stats
from hub.content import RepoView
from hub.dashboard import HEADERS, utc
from hub.webauth import COOKIE, AdminSessions
from kiosk.admin.changes import EXPIRY_WARNING_DAYS
from kiosk.content.history import diff_clips
from kiosk.content.manifest import ManifestClip
from kiosk.content.repository import Repository

Clock = Callable[[], float]
PLAYS_DAYS = 30
_CACHED = re.compile(r"cache/clips/([0-9a-f]{64})\.[a-z0-9]{1,8}")
# The dashboard's policy, plus the clips the <audio> element fetches from this hub.
CONSOLE_HEADERS = {
    **HEADERS,
    "Content-Security-Policy": HEADERS["Content-Security-Policy"] + "; media-src 'self'",
}


def expiry(clip: ManifestClip, today: dt.date) -> tuple[str, bool]:
    """The consent expiry as shown, and whether it is flagged (past, or within 30 days)."""
    if clip.expires is None:
        return "none", False
    days = (clip.expires - today).days
    if days < 0:
        return f"{clip.expires} (expired)", True
    if days <= EXPIRY_WARNING_DAYS:
        return f"{clip.expires} (in {days} d)", True
    return str(clip.expires), False


@dataclass(frozen=True)
class Deletion:
    """A booth's `consent` event: it deleted a retired clip's bytes (hub time, Unix s)."""

    booth: str
    received_at: float


def deletions(db: stats.Reader) -> dict[str, list[Deletion]]:
    """Clip sha256 -> the booths that reported deleting its cached bytes, first report each."""
    rows = db.query(
        "SELECT booth_id, received_at, body FROM events WHERE event = 'consent' "
        "ORDER BY received_at"
    )
    found: dict[str, dict[str, float]] = {}
    for booth_id, received_at, body in rows:
        try:
            removed = json.loads(body).get("removed", [])
        except (ValueError, AttributeError):
            continue
        for path in removed if isinstance(removed, list) else ():
            m = _CACHED.fullmatch(str(path))
            if m:
                found.setdefault(m.group(1), {}).setdefault(str(booth_id), float(received_at))
    ids = sorted({b for by in found.values() for b in by})
    names = stats.booth_names(db, ids)
    return {sha: [Deletion(names.get(b, b), t) for b, t in by.items()] for sha, by in found.items()}


def console_router(
    db: stats.Reader, repo: Repository, sessions: AdminSessions, clock: Clock
) -> APIRouter:
    """`clock` gives Unix seconds (a test may move it)."""
    router = APIRouter(include_in_schema=False)
    env = Environment(
        loader=PackageLoader("hub", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["utc"] = utc
    env.filters["pct"] = lambda x: f"{100 * x:.0f} %"

    def page(template: str, request: Request, **context: Any) -> Response:
        who = sessions.who(request.cookies.get(COOKIE))
        if who is None:
            return RedirectResponse("/login", status_code=303, headers=HEADERS)
        html = env.get_template(template).render(admin=who, **context)
        return HTMLResponse(html, headers=CONSOLE_HEADERS)

    def today() -> dt.date:
        return dt.datetime.fromtimestamp(clock(), dt.UTC).date()

    @router.get("/console/sets")
    def sets(request: Request) -> Response:
        view = RepoView(repo)
        groups = view.assignments()
        rows = []
        for name in view.set_names():
            manifest = view.manifest(name)
            history = view.history(name)
            last = history.versions[-1] if history.versions else None
            rows.append(
                {
                    "name": name,
                    "version": manifest.version if manifest else None,
                    "clips": len(manifest.clips) if manifest else 0,
                    "groups": sorted(g for g, s in groups.items() if s == name),
                    "last": last,
                    "flagged": sum(
                        1 for c in (manifest.clips if manifest else ()) if expiry(c, today())[1]
                    ),
                }
            )
        return page("sets.html", request, sets=rows)

    @router.get("/console/sets/{name}")
    def one_set(
        request: Request,
        name: str,
        a: Annotated[int | None, Query(ge=1)] = None,
        b: Annotated[int | None, Query(ge=1)] = None,
    ) -> Response:
        view = RepoView(repo)
        manifest = view.manifest(name)
        if manifest is None:
            raise HTTPException(404, f"no set {name!r}")
        history = view.history(name)
        numbers = [v.version for v in history.versions]
        b = b or manifest.version
        a = a or (numbers[-2] if len(numbers) > 1 else b)
        old, new = view.version(name, a), view.version(name, b)
        diff = diff_clips(old.clips, new.clips) if old and new else None
        since = clock() - PLAYS_DAYS * stats.DAY_S
        played = {c.clip: c for c in stats.clip_stats(db, since) if c.set_name == name}
        register = view.register()
        retired_sha = register.retired_sha256s()
        clips = []
        for clip in manifest.clips:
            info = view.clip_info(clip)
            shown, flagged = expiry(clip, today())
            plays = played.get(clip.file)
            clips.append(
                {
                    "clip": clip,
                    "duration_s": info.duration_s,
                    "expiry": shown,
                    "flagged": flagged,
                    "plays": plays.plays if plays else 0,
                    "listen_through": plays.listen_through if plays else None,
                    "avg_s": plays.listened_s / plays.plays if plays else None,
                    "retired": clip.sha256 in retired_sha,
                }
            )
        return page(
            "set.html",
            request,
            name=name,
            manifest=manifest,
            versions=list(reversed(history.versions)),
            a=a,
            b=b,
            diff=diff,
            clips=clips,
            retired=[r for r in register.retired if name in r.sets],
            groups=sorted(g for g, s in view.assignments().items() if s == name),
            audit=audit.entries(db, 50, name),
            plays_days=PLAYS_DAYS,
        )

    @router.get("/console/sets/{name}/audio/{file}")
    def audio(request: Request, name: str, file: str) -> Response:
        if sessions.who(request.cookies.get(COOKIE)) is None:
            raise HTTPException(401, "log in first")
        view = RepoView(repo)
        register = view.register()
        if any(r.file == file and name in r.sets for r in register.retired):
            raise HTTPException(410, f"{file}: consent withdrawn")
        manifest = view.manifest(name)
        clip = next((c for c in manifest.clips if c.file == file), None) if manifest else None
        if clip is None:
            raise HTTPException(404, f"set {name!r} has no clip {file!r}")
        if clip.sha256 in register.retired_sha256s():
            raise HTTPException(410, f"{file}: consent withdrawn")
        path = view.clip_path(clip)
        if path is None:
            raise HTTPException(404, f"{clip.target}: not in the repository")
        headers = {**CONSOLE_HEADERS, "Cache-Control": "private, max-age=300"}
        # FileResponse answers Range requests: the browser reads an Ogg file's end for its
        # duration, and shows no duration (Infinity) without them.
        return FileResponse(path, media_type="audio/ogg", headers=headers)

    @router.get("/console/consent")
    def consent(request: Request) -> Response:
        view = RepoView(repo)
        expiring: list[tuple[dt.date, dict[str, Any]]] = []
        for name in view.set_names():
            manifest = view.manifest(name)
            for clip in manifest.clips if manifest else ():
                shown, flagged = expiry(clip, today())
                if clip.expires is not None:
                    row = {"set": name, "clip": clip, "expiry": shown, "flagged": flagged}
                    expiring.append((clip.expires, row))
        expiring.sort(key=lambda e: e[0])
        register = view.register()
        deleted = deletions(db)
        return page(
            "consent.html",
            request,
            retired=[
                (r, [d for sha in sorted(r.target_sha256s()) for d in deleted.get(sha, [])])
                for r in register.retired
            ],
            reinstated=register.reinstated,
            expiring=[row for _, row in expiring],
            warn_days=EXPIRY_WARNING_DAYS,
        )

    @router.get("/console/audit")
    def audit_page(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> Response:
        return page("audit.html", request, entries=audit.entries(db, limit))

    return router
