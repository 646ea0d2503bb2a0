"""Who is calling: the admin (the hub's admin token) or one enrolled booth (its credential).

Both come as `Authorization: Bearer <secret>`. The admin token is compared in constant time;
booth credentials are stored only as sha256 digests, looked up by digest and then compared in
constant time too. A revoked booth is refused at once (no cache). `require_admin` and
`require_booth` are FastAPI dependencies any router can use; the middleware in hub/app.py also
keeps booths to the few paths they may call.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from fastapi import HTTPException, Request
from starlette.requests import HTTPConnection

from hub.db import Database

Role = Literal["admin", "booth"]

# What a booth credential may call (method, path); everything else under /api/ is the admin's.
BOOTH_PATHS = frozenset({("POST", "/api/v1/heartbeat"), ("POST", "/api/v1/events")})
# Needs no bearer at all: the enrollment token in the body is the credential.
OPEN_PATHS = frozenset({("POST", "/api/v1/enroll")})


@dataclass(frozen=True)
class Principal:
    role: Role
    booth_id: str = ""
    admin: str = ""  # the admin's name (hub/admins.py), "bootstrap" for the first token


def digest(secret: str) -> str:
    """The stored form of a booth credential or enrollment token: sha256 hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def bearer(request: HTTPConnection) -> str | None:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return given if scheme.lower() == "bearer" and given else None


class Auth:
    """Turns a bearer secret into a Principal (or None)."""

    def __init__(
        self, admin_token: str, db: Database, named: Callable[[str], str | None] = lambda _: None
    ) -> None:
        """`named(token)` gives the named admin holding a personal token (hub/admins.py)."""
        self._admin = admin_token.encode()
        self._db = db
        self._named = named

    def principal(self, request: HTTPConnection) -> Principal | None:
        """From an HTTP request or a WebSocket upgrade."""
        given = bearer(request)
        if given is None:
            return None
        if hmac.compare_digest(given.encode(), self._admin):
            return Principal("admin", admin="bootstrap")
        wanted = digest(given)
        rows = self._db.query(
            "SELECT id, token_sha256 FROM booths WHERE token_sha256 = ? AND revoked_at IS NULL",
            (wanted,),
        )
        if rows and hmac.compare_digest(rows[0][1], wanted):
            return Principal("booth", rows[0][0])
        # Named admins last: the fleet's heartbeats and events pay no extra query.
        name = self._named(given)
        return None if name is None else Principal("admin", admin=name)


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def _principal(request: Request) -> Principal | None:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    auth: Auth = request.app.state.auth
    return auth.principal(request)


def require_admin(request: Request) -> Principal:
    """Dependency: the caller holds the admin token (else 401)."""
    who = _principal(request)
    if who is None or who.role != "admin":
        raise unauthorized("admin token required")
    return who


def require_booth(request: Request) -> Principal:
    """Dependency: the caller is an enrolled, unrevoked booth (else 401)."""
    who = _principal(request)
    if who is None or who.role != "booth":
        raise unauthorized("booth credential required")
    return who
