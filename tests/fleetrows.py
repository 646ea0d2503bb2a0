"""Booths and events written straight into a hub's database (the fleet API's tables, by the
contract in hub.db.SCHEMA), for dashboard tests and benchmarks that must not wait for it."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hub.db import Database


class FleetRows:
    """One SQLite connection to `path` (WAL: safe beside a running hub)."""

    def __init__(self, path: Path) -> None:
        Database(path).close()  # the schema
        self._conn = sqlite3.connect(path, isolation_level=None, timeout=10)

    def booth(
        self,
        booth_id: str,
        *,
        name: str | None = None,
        grp: str = "lobby",
        credential: str | None = None,
        heartbeat_interval_s: float = 60,
        enrolled_at: float = 0.0,
        revoked_at: float | None = None,
    ) -> str:
        """A new booth; returns its credential (default: "cred-<id>")."""
        credential = credential or f"cred-{booth_id}"
        self.booths([(booth_id, name or booth_id, grp, credential)], heartbeat_interval_s)
        if revoked_at is not None or enrolled_at:
            self._conn.execute(
                "UPDATE booths SET revoked_at = ?, enrolled_at = ? WHERE id = ?",
                (revoked_at, enrolled_at, booth_id),
            )
        return credential

    def booths(self, rows: Iterable[tuple[str, str, str, str]], interval_s: float = 60) -> None:
        """Many booths at once: (id, name, group, credential)."""
        self._conn.executemany(
            "INSERT INTO booths (id, name, grp, token_sha256, enrolled_at, heartbeat_interval) "
            "VALUES (?, ?, ?, ?, 0, ?)",
            ((i, n, g, hashlib.sha256(c.encode()).hexdigest(), interval_s) for i, n, g, c in rows),
        )

    def heartbeat(self, booth_id: str, last_seen: float, **body: Any) -> None:
        self._conn.execute(
            "UPDATE booths SET last_seen = ?, heartbeat = ? WHERE id = ?",
            (last_seen, json.dumps(body), booth_id),
        )

    def event(self, booth_id: str, event: str, at: float, **body: Any) -> None:
        self.events([(booth_id, event, at, body)])

    def events(self, rows: Iterable[tuple[str, str, float, dict[str, Any]]]) -> None:
        """Many events in one transaction: (booth id, event name, booth time, fields)."""
        self._conn.execute("BEGIN")
        self._conn.executemany(
            "INSERT INTO events (id, booth_id, event, at, received_at, set_name, clip, "
            "listened_ms, finished, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    str(uuid.uuid4()),
                    booth_id,
                    event,
                    at,
                    at,
                    body.get("set"),
                    body.get("clip"),
                    body.get("listened_ms"),
                    None if "finished" not in body else int(body["finished"]),
                    json.dumps({"event": event, "at": at, **body}),
                )
                for booth_id, event, at, body in rows
            ),
        )
        self._conn.execute("COMMIT")

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
        self.events(
            [
                (booth_id, "lift", at, {}),
                (booth_id, "clip_start", at, {"set": set_name, "clip": clip, "title": title}),
                (
                    booth_id,
                    "clip_end",
                    end,
                    {
                        "set": set_name,
                        "clip": clip,
                        "listened_ms": listened_ms,
                        "finished": finished,
                    },
                ),
                (booth_id, "hangup", end, {}),
            ]
        )

    def close(self) -> None:
        self._conn.close()
