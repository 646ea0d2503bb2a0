"""The fleet's data: enrollment tokens, booths, heartbeats and play events (no HTTP here).

Writes the tables `enrollments`, `booths` and `events` of hub/db.py (the dashboard reads them).
Secrets are stored only as sha256 digests. Times are Unix seconds from the injected `clock`.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from hub.auth import digest
from hub.db import Database
from hub.migrations import UPDATE_COLUMNS
from kiosk.fleet.records import EventRecord, readable_heartbeat, reason

ENROLLMENT_TTL_S = 7 * 86400.0
OFFLINE_FACTOR = 1.5  # a booth is offline once its last heartbeat is this many intervals old


class EnrollmentRefused(Exception):
    """The token is unknown (401), already used or expired (410)."""

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason


@dataclass(frozen=True)
class Enrolled:
    booth_id: str
    credential: str
    name: str
    group: str


@dataclass(frozen=True)
class Stored:
    """The answer to one upload: ids now held by the hub (new or seen before), and refusals."""

    acked: list[str]
    new: int
    rejected: dict[str, str]


_BOOTH_COLUMNS = "id, name, grp, enrolled_at, revoked_at, heartbeat_interval, last_seen, heartbeat"


class FleetStore:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    # -- enrollment ------------------------------------------------------------------------
    def add_enrollment(self, group: str, name: str, ttl_s: float = ENROLLMENT_TTL_S) -> str:
        """A one-time enrollment token for a booth of `group`; only its digest is kept."""
        token = secrets.token_hex(24)  # hex: never starts with '-' on a command line
        now = self.clock()
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO enrollments (token_sha256, grp, name, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (digest(token), group, name, now, now + ttl_s),
            )
        return token

    def pending_enrollments(self) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT grp, name, created_at, expires_at FROM enrollments "
            "WHERE booth_id IS NULL AND expires_at > ? ORDER BY created_at",
            (self.clock(),),
        )
        return [{"group": g, "name": n, "created_at": c, "expires_at": e} for g, n, c, e in rows]

    def enroll(self, token: str) -> Enrolled:
        """Use `token` once: a new booth with a fresh credential. Raises EnrollmentRefused."""
        now = self.clock()
        wanted = digest(token)
        booth_id = secrets.token_hex(6)
        credential = secrets.token_urlsafe(32)
        with self.db.transaction() as cur:
            row = cur.execute(
                "SELECT grp, name, expires_at, booth_id FROM enrollments WHERE token_sha256 = ?",
                (wanted,),
            ).fetchone()
            if row is None:
                raise EnrollmentRefused(401, "unknown enrollment token")
            group, name, expires_at, used_by = row
            if used_by is not None:
                raise EnrollmentRefused(410, "enrollment token already used")
            if expires_at <= now:
                raise EnrollmentRefused(410, "enrollment token expired")
            cur.execute(
                "UPDATE enrollments SET booth_id = ? WHERE token_sha256 = ?", (booth_id, wanted)
            )
            cur.execute(
                "INSERT INTO booths (id, name, grp, token_sha256, enrolled_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (booth_id, name or booth_id, group, digest(credential), now),
            )
        return Enrolled(booth_id, credential, name or booth_id, group)

    # -- admin -----------------------------------------------------------------------------
    def booths(self) -> list[dict[str, Any]]:
        rows = self.db.query(f"SELECT {_BOOTH_COLUMNS} FROM booths ORDER BY grp, name")
        return [self._booth(r) for r in rows]

    def booth(self, booth_id: str) -> dict[str, Any] | None:
        rows = self.db.query(f"SELECT {_BOOTH_COLUMNS} FROM booths WHERE id = ?", (booth_id,))
        return self._booth(rows[0]) if rows else None

    def _booth(self, row: Sequence[Any]) -> dict[str, Any]:
        id_, name, group, enrolled_at, revoked_at, interval, last_seen, heartbeat = row
        offline = last_seen is None or self.clock() - last_seen > OFFLINE_FACTOR * interval
        return {
            "id": id_,
            "name": name,
            "group": group,
            "enrolled_at": enrolled_at,
            "revoked": revoked_at is not None,
            "revoked_at": revoked_at,
            "heartbeat_interval": interval,
            "last_seen": last_seen,
            "offline": offline,
            "heartbeat": readable_heartbeat(heartbeat),
        }

    def update(self, booth_id: str, name: str | None = None, group: str | None = None) -> bool:
        """Rename and/or regroup; False if there is no such booth."""
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE booths SET name = COALESCE(?, name), grp = COALESCE(?, grp) WHERE id = ?",
                (name, group, booth_id),
            )
            return cur.rowcount == 1

    def revoke(self, booth_id: str) -> bool:
        """The booth's credential stops working now; False if there is no such booth."""
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE booths SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?",
                (self.clock(), booth_id),
            )
            return cur.rowcount == 1

    # -- booths ----------------------------------------------------------------------------
    def heartbeat(self, booth_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Store the heartbeat (checked: kiosk.fleet.records.Heartbeat) with the hub's view of
        the booth's clock offset (booth minus hub)."""
        now = self.clock()
        sent_at = body.get("sent_at")
        if isinstance(sent_at, int | float) and not isinstance(sent_at, bool):
            body = {**body, "clock_offset_s": round(float(sent_at) - now, 3)}
        interval = body.get("heartbeat_interval")
        ok = isinstance(interval, int | float) and 1 <= interval <= 86400
        # The software columns (migration 2) mirror the heartbeat, for the rollout's counts.
        software = [_text(body.get(column)) for column in UPDATE_COLUMNS]
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE booths SET last_seen = ?, heartbeat = ?, "
                "heartbeat_interval = COALESCE(?, heartbeat_interval), "
                "version = ?, update_state = ?, update_version = ? WHERE id = ?",
                (
                    now,
                    json.dumps(body, separators=(",", ":")),
                    interval if ok else None,
                    *software,
                    booth_id,
                ),
            )
        return {"server_time": now, "clock_offset_s": body.get("clock_offset_s")}

    def store_events(self, booth_id: str, events: Sequence[tuple[str, object]]) -> Stored:
        """Each id once, however often it is sent; a record that is not an EventRecord is
        refused with the reason (the booth drops it: never retried)."""
        now = self.clock()
        acked: list[str] = []
        rejected: dict[str, str] = {}
        new = 0
        with self.db.transaction() as cur:
            for id_, record in events:
                try:
                    checked = EventRecord.model_validate(record)
                except ValidationError as e:
                    rejected[id_] = reason(e)
                    continue
                cur.execute(
                    "INSERT INTO events (id, booth_id, event, at, received_at, set_name, clip, "
                    "listened_ms, finished, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO NOTHING",
                    (id_, booth_id, checked.event, checked.at, now, *_columns(checked)),
                )
                new += cur.rowcount
                acked.append(id_)
        return Stored(acked, new, rejected)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _columns(record: EventRecord) -> tuple[object, ...]:
    """(set_name, clip, listened_ms, finished, body) for the events table. A rating's
    `changed` goes in `finished` (1: it changed the listener's view), so the "changed my
    view" rate is counted like listen-through, from indexed columns."""
    done = record.changed if record.event == "rating" else record.finished
    finished = None if done is None else int(done)
    body = record.model_dump_json(exclude_unset=True)
    return record.set, record.clip, record.listened_ms, finished, body
