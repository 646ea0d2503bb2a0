"""The fleet API (an APIRouter mounted by hub/app.py).

POST  /api/v1/enroll                 {"token"} or bearer → {"booth_id", "credential", ...}
                                     401 unknown token, 410 used or expired,
                                     429 after too many failures from one address
POST  /api/v1/heartbeat              booth: a kiosk.fleet.records.Heartbeat → {"server_time", ...}
                                     422 out of bounds, 429 over the booth's heartbeat limit
POST  /api/v1/events                 booth: {"events": [{"id", "record"}]}
                                     → {"acked": [ids], "new": n, "rejected": {id: reason}}
                                     (each record an EventRecord, else rejected alone);
                                     429 over the booth's events per minute (hub.ratelimit)
POST  /api/v1/booths                 admin: {"group", "name"} → one-time {"token", ...}
GET   /api/v1/booths                 admin: every booth, with "offline"
GET   /api/v1/booths/{id}            admin
PATCH /api/v1/booths/{id}            admin: {"name"} and/or {"group"}
POST  /api/v1/booths/{id}/revoke     admin: its credential gets 401 from now on
GET   /api/v1/enrollments            admin: unused, unexpired tokens (never the token itself)
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema

from hub.audit import AuditLog
from hub.auth import Principal, bearer, require_admin, require_booth
from hub.errors import problems
from hub.fleetstore import ENROLLMENT_TTL_S, EnrollmentRefused, FleetStore
from hub.ratelimit import Limiter
from kiosk.fleet.fit import MAX_BATCH_EVENTS
from kiosk.fleet.records import MAX_HEARTBEAT_BYTES, EventRecord, Heartbeat

MAX_BATCH = MAX_BATCH_EVENTS
_NAME = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$"
_STRICT = ConfigDict(allow_inf_nan=False)

Admin = Annotated[Principal, Depends(require_admin)]
Booth = Annotated[Principal, Depends(require_booth)]


class EnrollIn(BaseModel):
    model_config = _STRICT
    token: str = Field(default="", max_length=200)


class BoothIn(BaseModel):
    model_config = _STRICT
    group: str = Field(pattern=_NAME)
    name: str = Field(default="", pattern=r"^$|" + _NAME)
    ttl_s: float = Field(default=ENROLLMENT_TTL_S, gt=0, le=365 * 86400)


class BoothPatch(BaseModel):
    model_config = _STRICT
    name: str | None = Field(default=None, pattern=_NAME)
    group: str | None = Field(default=None, pattern=_NAME)


class EventIn(BaseModel):
    """`record` is checked one by one (hub.fleetstore): a bad one is refused alone, in the
    answer's `rejected`, never the whole batch (the booth would send it again forever)."""

    id: str = Field(pattern=r"^[0-9a-f-]{8,64}$")
    record: Annotated[dict[str, Any], WithJsonSchema(EventRecord.model_json_schema())]


class EventsIn(BaseModel):
    events: list[EventIn] = Field(max_length=MAX_BATCH)


def router(store: FleetStore, limiter: Limiter, audit: AuditLog | None = None) -> APIRouter:
    """The fleet API. `limiter`: events and heartbeats per booth (hub.ratelimit); booth add,
    rename, regroup and revoke go to `audit`."""
    api = APIRouter(prefix="/api/v1")

    def record(who: Principal, action: str, subject: str, detail: str = "") -> None:
        if audit is not None:
            audit.record(who.admin, action, subject, detail)

    @api.post("/enroll")
    def enroll(request: Request, body: EnrollIn | None = None) -> dict[str, Any]:
        token = (body.token if body else "") or bearer(request) or ""
        if not token:
            raise HTTPException(401, "enrollment token required")
        try:
            done = store.enroll(token)
        except EnrollmentRefused as e:
            raise HTTPException(e.status_code, e.reason) from e
        return {
            "booth_id": done.booth_id,
            "credential": done.credential,
            "name": done.name,
            "group": done.group,
        }

    heartbeat_body = {
        "required": True,
        "content": {"application/json": {"schema": Heartbeat.model_json_schema()}},
    }

    @api.post("/heartbeat", openapi_extra={"requestBody": heartbeat_body})
    async def heartbeat(request: Request, who: Booth) -> dict[str, Any]:
        raw = await request.body()
        if len(raw) > MAX_HEARTBEAT_BYTES:
            raise HTTPException(413, f"heartbeat larger than {MAX_HEARTBEAT_BYTES} bytes")
        try:
            body = Heartbeat.model_validate_json(raw).dump()
        except ValidationError as e:
            raise HTTPException(422, problems(list(e.errors()))) from e
        limiter.booth_heartbeat(who.booth_id)
        return await asyncio.to_thread(store.heartbeat, who.booth_id, body)

    @api.post("/events")
    def events(body: EventsIn, who: Booth) -> dict[str, Any]:
        limiter.booth_events(who.booth_id, len(body.events))
        done = store.store_events(who.booth_id, [(e.id, e.record) for e in body.events])
        return {"acked": done.acked, "new": done.new, "rejected": done.rejected}

    @api.post("/booths")
    def add_booth(body: BoothIn, who: Admin) -> dict[str, Any]:
        token = store.add_enrollment(body.group, body.name, body.ttl_s)
        record(who, "booth add", f"group {body.group}", f"enrollment for {body.name or '?'}")
        return {"token": token, "group": body.group, "name": body.name, "ttl_s": body.ttl_s}

    @api.get("/booths")
    def booths(_: Admin) -> list[dict[str, Any]]:
        return store.booths()

    @api.get("/booths/{booth_id}")
    def booth(booth_id: str, _: Admin) -> dict[str, Any]:
        found = store.booth(booth_id)
        if found is None:
            raise HTTPException(404, f"no booth {booth_id}")
        return found

    @api.patch("/booths/{booth_id}")
    def update(booth_id: str, body: BoothPatch, who: Admin) -> dict[str, Any]:
        if not store.update(booth_id, body.name, body.group):
            raise HTTPException(404, f"no booth {booth_id}")
        if body.name is not None:
            record(who, "booth rename", f"booth {booth_id}", f"named {body.name}")
        if body.group is not None:
            record(who, "booth regroup", f"booth {booth_id}", f"moved to group {body.group}")
        return booth(booth_id, who)

    @api.post("/booths/{booth_id}/revoke")
    def revoke(booth_id: str, who: Admin) -> dict[str, Any]:
        if not store.revoke(booth_id):
            raise HTTPException(404, f"no booth {booth_id}")
        record(who, "booth revoke", f"booth {booth_id}")
        return booth(booth_id, who)

    @api.get("/enrollments")
    def enrollments(_: Admin) -> list[dict[str, Any]]:
        return store.pending_enrollments()

    return api
