"""The hub's HTTP service (FastAPI): the repository as static files, and the admin API.

    GET  /repo/...                    the signed repository (what booths, nginx or a CDN serve)
    PUT  /api/v1/targets/{path}       upload target bytes (?sha256=...); admin token
    POST /api/v1/publish              signed targets metadata → new snapshot and timestamp
    POST /api/v1/refresh              re-sign snapshot and timestamp now
    GET  /api/v1/publishes            the publish log
    GET  /api/v1/audit                every change: who, what, when (hub/audit.py)
    /api/v1/enroll, heartbeat, events, booths...   the fleet (hub/fleet.py)
    GET  /healthz
    GET  /login, /dashboard, ...      the admin's web pages (hub/dashboard.py, hub/console.py)
    GET  /metrics                     Prometheus text format; admin token (hub/metrics.py)
    WS   /live/twilio, /live/audiohook, /live/booth   live calls relayed (hub/live/)

The hub holds only the online keys: it can re-sign snapshot and timestamp, never targets.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from securesystemslib.signer import Signer
from tuf.api.exceptions import RepositoryError as TufRepositoryError
from tuf.api.metadata import Metadata, TargetFile, Targets
from tuf.api.serialization import DeserializationError

from hub import errors, openapi
from hub.admins import AdminStore
from hub.audit import AuditLog, describe
from hub.auth import BOOTH_PATHS, OPEN_PATHS, Auth, Principal
from hub.bodylimit import BodyLimit, hub_limits
from hub.consentcheck import ConsentRefused
from hub.consentcheck import check as consent_check
from hub.console import console_router
from hub.content import clip_lengths, release_channels
from hub.dashboard import dashboard_router
from hub.db import open_database
from hub.fleet import router as fleet_router
from hub.fleetstore import FleetStore
from hub.live import metrics as live_metrics
from hub.live import settings as live_settings
from hub.live.dashboard import live_dashboard_router
from hub.live.relay import Relay
from hub.live.routes import live_router
from hub.metrics import metrics_router
from hub.origin import SameOrigin
from hub.ratelimit import GuessLimit, Limiter
from hub.readdb import ReadOnlyDatabase
from hub.settings import Settings
from hub.webauth import AdminSessions
from kiosk.content.keys import KeyStore
from kiosk.content.repository import Repository, RepositoryError, utcnow

log = logging.getLogger(__name__)

_TARGET = re.compile(
    r"^(clips/[0-9a-f]{64}\.[a-z0-9]{1,8}"
    r"|sets/[A-Za-z0-9][A-Za-z0-9._-]{0,63}/(clipset|history)\.json"
    r"|assignments\.json|consent\.json"
    r"|releases/channels\.json|releases/[A-Za-z0-9][A-Za-z0-9._-]{0,63}/release\.json"
    r"|wheels/[0-9a-f]{64}/[A-Za-z0-9._+-]{1,200}\.whl)$"
)


def create_app(settings: Settings, clock: Callable[[], float] = time.time) -> FastAPI:
    """The app for one data folder (the repository must exist: `kiosk-admin init`); `clock`
    (Unix s) decides which booths are online."""
    repo = Repository(settings.repo)
    keys = KeyStore(settings.online_keys)
    db = open_database(settings.database, settings.database_url)
    admins = AdminStore(db, clock)
    audit = AuditLog(db, clock)
    auth = Auth(settings.admin_token(), db, named=admins.name_of)
    # The dashboard's and /metrics' slow reads: on SQLite a read-only connection of their own.
    reader = db if settings.database_url else ReadOnlyDatabase(settings.database)
    lock = threading.Lock()  # one publish at a time

    def online() -> dict[str, Signer]:
        return {r: keys.signer(r) for r in ("snapshot", "timestamp")}

    def refresh_if_due() -> bool:
        with lock:
            expires = repo.timestamp().signed.expires
            due = expires - dt.timedelta(days=settings.refresh_before_expiry_days)
            if utcnow() < due:
                return False
            repo.refresh_timestamp(online())
            return True

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def refresher() -> None:
            while True:
                if await asyncio.to_thread(refresh_if_due):
                    log.info("re-signed snapshot and timestamp before they expire")
                await asyncio.sleep(3600)

        task = asyncio.create_task(refresher())
        try:
            yield
        finally:
            task.cancel()
            if reader is not db:
                reader.close()
            db.close()

    app = FastAPI(title="kiosk hub", version="1", lifespan=lifespan)
    app.state.auth = auth
    errors.install(app)

    @app.middleware("http")
    async def api_auth(request: Request, call_next: Any) -> Any:
        """Every /api/ call needs the admin token or, for its own few paths, a booth's
        credential (hub/auth.py): anything else gets 401 (403 for a booth) before any work."""
        path = request.url.path
        if path.startswith("/api/") and (request.method, path) not in OPEN_PATHS:
            who = auth.principal(request)
            if who is None:
                return JSONResponse(
                    {"detail": "admin token or booth credential required"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if who.role == "booth" and (request.method, path) not in BOOTH_PATHS:
                return JSONResponse({"detail": "not allowed for a booth"}, status_code=403)
            request.state.principal = who
        return await call_next(request)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        ts = repo.timestamp().signed
        return {"ok": True, "timestamp_version": ts.version, "expires": ts.expires.isoformat()}

    @app.put("/api/v1/targets/{path:path}", openapi_extra=openapi.upload(settings))
    async def put_target(
        path: str,
        request: Request,
        sha256: Annotated[str, Query(pattern="^[0-9a-f]{64}$")],
    ) -> dict[str, Any]:
        if not _TARGET.fullmatch(path):
            raise HTTPException(400, f"{path}: not a target the hub takes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > settings.max_upload_bytes:
                raise HTTPException(413, f"{path}: larger than {settings.max_upload_bytes} bytes")
        data = bytes(body)
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256 or (
            path.startswith(("clips/", "wheels/"))
            and not path.startswith((f"clips/{actual}", f"wheels/{actual}/"))
        ):
            raise HTTPException(400, f"{path}: sha256 of the body is {actual}")
        info = await asyncio.to_thread(repo.add_target_bytes, path, data)
        db.record_upload(path, actual, info.length)
        return {"path": path, "length": info.length, "sha256": actual}

    @app.post("/api/v1/publish", openapi_extra=openapi.PUBLISH)
    async def publish(request: Request) -> dict[str, Any]:
        try:
            targets = Metadata[Targets].from_bytes(await request.body())
        except (DeserializationError, ValueError) as e:
            raise HTTPException(400, f"not targets metadata: {e}") from e

        def run() -> tuple[Targets, int]:
            with lock:
                before = repo.targets().signed
                consent_check(before, targets.signed, read_target)
                return before, repo.publish_targets(targets, online())

        try:
            before, snapshot_version = await asyncio.to_thread(run)
        except (RepositoryError, TufRepositoryError, ConsentRefused) as e:
            raise HTTPException(400, str(e)) from e
        who: Principal = request.state.principal
        for change in describe(before, targets.signed, read_target):
            audit.record(who.admin, change.action, change.subject, change.detail, change.sets)
        sets = sorted(
            p.split("/")[1] for p in targets.signed.targets if p.endswith("/clipset.json")
        )
        db.record_publish(targets.signed.version, snapshot_version, sets)
        log.info("published targets v%d (snapshot v%d)", targets.signed.version, snapshot_version)
        return {"targets_version": targets.signed.version, "snapshot_version": snapshot_version}

    @app.post("/api/v1/refresh")
    async def refresh() -> dict[str, Any]:
        def run() -> int:
            with lock:
                return repo.refresh_timestamp(online())

        return {"snapshot_version": await asyncio.to_thread(run)}

    @app.get("/api/v1/publishes")
    def publishes() -> list[dict[str, object]]:
        return db.publishes()

    @app.get("/api/v1/audit")
    def audit_log(
        limit: Annotated[int, Query(ge=1, le=1000)] = 100, set: str = ""
    ) -> list[dict[str, object]]:
        """The audit log, latest first; `set` keeps the entries about that set."""
        return [e.to_dict() for e in audit.entries(limit, set)]

    def read_target(info: TargetFile) -> bytes:
        return repo.target_path(info).read_bytes()

    limiter = Limiter(settings.rate_limits)
    app.include_router(fleet_router(FleetStore(db), limiter, audit))
    relay = Relay(live_settings.load(settings.data))
    app.include_router(live_router(relay, auth))
    sessions = AdminSessions(
        settings.admin_token().encode(), clock, named=admins.name_of, active=admins.active
    )
    app.include_router(
        dashboard_router(
            reader, sessions, clock, lambda: clip_lengths(repo), lambda: release_channels(repo)
        )
    )
    app.include_router(console_router(reader, repo, sessions, clock))
    app.include_router(live_dashboard_router(relay, reader, sessions, clock))
    app.include_router(
        metrics_router(
            reader,
            clock,
            not settings.database_url,
            lambda: live_metrics.render(relay),
            lambda: release_channels(repo),
        )
    )
    app.mount("/repo", StaticFiles(directory=settings.repo), name="repo")
    # Outermost last: the body cap comes before everything, then the guess limit.
    app.add_middleware(GuessLimit, limiter=limiter)
    app.add_middleware(SameOrigin)
    app.add_middleware(BodyLimit, limit_for=hub_limits(settings.max_upload_bytes))
    return app
