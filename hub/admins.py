"""Named admins: each has a personal bearer token, stored only as its sha256 digest.

`kiosk-hub admin add NAME` prints the token once; `kiosk-hub admin revoke NAME` ends it at
once (no cache). The first token (`kiosk-hub token`) stays as the bootstrap admin, named
BOOTSTRAP in the audit log.
"""

from __future__ import annotations

import getpass
import hmac
import re
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from hub.audit import AuditLog
from hub.auth import digest
from hub.dashboard import utc
from hub.db import Database, open_database
from hub.settings import Settings

BOOTSTRAP = "bootstrap"
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
Clock = Callable[[], float]


class AdminError(ValueError):
    """A bad name, or an admin that exists already or not at all."""


@dataclass(frozen=True)
class Admin:
    name: str
    created_at: float
    revoked_at: float | None


class AdminStore:
    """The `admins` table (hub/db.py's schema)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def add(self, name: str) -> str:
        """A new admin's token (shown only now). A revoked name may be added again."""
        if not _NAME.fullmatch(name) or name == BOOTSTRAP:
            raise AdminError(
                f"admin name {name!r}: use lower-case letters, digits, '.', '_' or '-' "
                f"(not {BOOTSTRAP!r})"
            )
        token = secrets.token_hex(32)  # hex: never starts with "-" on a command line
        with self._db.transaction() as cur:
            cur.execute(
                "INSERT INTO admins (name, token_sha256, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET token_sha256 = excluded.token_sha256, "
                "created_at = excluded.created_at, revoked_at = NULL "
                "WHERE admins.revoked_at IS NOT NULL",
                (name, digest(token), self._clock()),
            )
            if cur.rowcount != 1:
                raise AdminError(f"admin {name!r} exists: revoke it first")
        return token

    def revoke(self, name: str) -> None:
        with self._db.transaction() as cur:
            cur.execute(
                "UPDATE admins SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (self._clock(), name),
            )
            if cur.rowcount != 1:
                raise AdminError(f"no active admin {name!r}")

    def name_of(self, token: str) -> str | None:
        """The active admin holding `token`, if any (looked up by digest, compared in constant
        time)."""
        wanted = digest(token)
        rows = self._db.query(
            "SELECT name, token_sha256 FROM admins WHERE token_sha256 = ? AND revoked_at IS NULL",
            (wanted,),
        )
        if rows and hmac.compare_digest(rows[0][1], wanted):
            return str(rows[0][0])
        return None

    def active(self, name: str) -> bool:
        rows = self._db.query("SELECT 1 FROM admins WHERE name = ? AND revoked_at IS NULL", (name,))
        return bool(rows)

    def list(self) -> list[Admin]:
        rows = self._db.query("SELECT name, created_at, revoked_at FROM admins ORDER BY name")
        return [Admin(r[0], r[1], r[2]) for r in rows]


def run_admin_command(settings: Settings, command: str, name: str) -> int:
    """`kiosk-hub admin add|revoke|list`, on the hub's own database; audited as the local
    user ("server:<user>")."""
    db = open_database(settings.database, settings.database_url)
    try:
        store = AdminStore(db, time.time)
        actor = f"server:{getpass.getuser()}"
        match command:
            case "add":
                token = store.add(name)
                AuditLog(db, time.time).record(actor, "admin add", f"admin {name}")
                print(token)
                print(f"admin {name}: keep this token; it is not shown again", file=sys.stderr)
            case "revoke":
                store.revoke(name)
                AuditLog(db, time.time).record(actor, "admin revoke", f"admin {name}")
                print(f"admin {name} revoked")
            case _:
                for a in store.list():
                    state = "revoked" if a.revoked_at is not None else "active"
                    print(f"{a.name}\t{state}\tadded {utc(a.created_at)}")
    except AdminError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        db.close()
    return 0
