"""Booths and events written straight into a hub's database (the fleet API's tables, by the
contract in hub.db.SCHEMA), for dashboard tests and benchmarks that need rows fast.

It writes through hub.db's portable `transaction()`, so the same rows go to SQLite (beside a
running hub: WAL) or to PostgreSQL (hub.pgdb)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from hub.auth import digest
from hub.db import Database
from hub.migrations import UPDATE_COLUMNS


class FleetRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    def booth(
        self,
        booth_id: str,
        *,
        name: str | None = None,
        grp: str = "lobby",
        credential: str | None = None,
        heartbeat_interval_s: float = 60,
        revoked_at: float | None = None,
    ) -> str:
        """A new booth; returns its credential (default: "cred-<id>")."""
        credential = credential or f"cred-{booth_id}"
        self.booths([(booth_id, name or booth_id, grp, credential)], heartbeat_interval_s)
        if revoked_at is not None:
            with self.db.transaction() as cur:
                cur.execute("UPDATE booths SET revoked_at = ? WHERE id = ?", (revoked_at, booth_id))
        return credential

    def booths(self, rows: Iterable[tuple[str, str, str, str]], interval_s: float = 60) -> None:
        """Many booths at once: (id, name, group, credential)."""
        with self.db.transaction() as cur:
            for booth_id, name, grp, credential in rows:
                cur.execute(
                    "INSERT INTO booths (id, name, grp, token_sha256, enrolled_at, "
                    "heartbeat_interval) VALUES (?, ?, ?, ?, 0, ?)",
                    (booth_id, name, grp, digest(credential), interval_s),
                )

    def heartbeat(self, booth_id: str, last_seen: float, **body: Any) -> None:
        """Store `body` as the last heartbeat, with the software columns (migration 2) the
        hub's fleet store keeps beside it."""
        software = [body.get(c) if isinstance(body.get(c), str) else None for c in UPDATE_COLUMNS]
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE booths SET last_seen = ?, heartbeat = ?, version = ?, update_state = ?, "
                "update_version = ? WHERE id = ?",
                (last_seen, json.dumps(body, separators=(",", ":")), *software, booth_id),
            )

    def event(self, booth_id: str, event: str, at: float, **body: Any) -> None:
        self.events([(booth_id, event, at, body)])

    def events(self, rows: Iterable[tuple[str, str, float, dict[str, Any]]]) -> None:
        """Many events in one transaction: (booth id, event name, booth time, fields)."""
        with self.db.transaction() as cur:
            for booth_id, event, at, body in rows:
                # A rating's `changed` is stored in `finished`, as hub.fleetstore does.
                finished = body.get("changed" if event == "rating" else "finished")
                cur.execute(
                    "INSERT INTO events (id, booth_id, event, at, received_at, set_name, clip, "
                    "listened_ms, finished, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        str(uuid.uuid4()),
                        booth_id,
                        event,
                        at,
                        at,
                        body.get("set"),
                        body.get("clip"),
                        body.get("listened_ms"),
                        None if finished is None else int(finished),
                        json.dumps({"event": event, "at": at, **body}),
                    ),
                )

    def play(
        self,
        booth_id: str,
        at: float,
        set_name: str,
        clip: str,
        listened_ms: int,
        finished: bool,
        title: str | None = None,
    ) -> None:
        """One lift that plays one clip, then a hang-up."""
        end = at + listened_ms / 1000
        clip_end = {"set": set_name, "clip": clip, "listened_ms": listened_ms}
        self.events(
            [
                (booth_id, "lift", at, {}),
                (booth_id, "clip_start", at, {"set": set_name, "clip": clip, "title": title}),
                (booth_id, "clip_end", end, {**clip_end, "finished": finished}),
                (booth_id, "hangup", end, {}),
            ]
        )
