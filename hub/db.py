"""The hub's database: SQLite by default, through a small layer PostgreSQL can replace.

`SCHEMA` is the baseline, migration step 1 (hub/migrations.py): it is frozen. A change to the
tables is a new step there, never an edit here.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

Engine = Literal["sqlite", "postgresql"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS publishes (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    targets_version INTEGER NOT NULL,
    snapshot_version INTEGER NOT NULL,
    sets TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
    path TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    length INTEGER NOT NULL,
    at REAL NOT NULL
);
-- The fleet. Times are Unix seconds (REAL). Booth credentials and enrollment tokens are stored
-- only as sha256 hex digests.
CREATE TABLE IF NOT EXISTS enrollments (
    token_sha256 TEXT PRIMARY KEY,
    grp TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    booth_id TEXT                      -- set once used: a token enrolls one booth
);
CREATE TABLE IF NOT EXISTS booths (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    grp TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    enrolled_at REAL NOT NULL,
    revoked_at REAL,                   -- NULL while the booth may talk to the hub
    heartbeat_interval REAL NOT NULL DEFAULT 60,
    last_seen REAL,                    -- hub time of the last heartbeat
    heartbeat TEXT                     -- the last heartbeat's JSON body, as the booth sent it
);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,               -- made by the booth: stored once however often it is sent
    booth_id TEXT NOT NULL,
    event TEXT NOT NULL,               -- lift, hangup, clip_start, clip_end, live_start, ...
    at REAL NOT NULL,                  -- the booth's wall clock
    received_at REAL NOT NULL,         -- the hub's clock
    set_name TEXT,
    clip TEXT,
    listened_ms INTEGER,               -- clip_end, live_end
    finished INTEGER,                  -- clip_end: 1 if the listener stayed to the end
    body TEXT NOT NULL                 -- the whole event as JSON
);
CREATE INDEX IF NOT EXISTS events_booth_at ON events (booth_id, at);
CREATE INDEX IF NOT EXISTS events_event_clip ON events (event, clip);
-- The dashboard's and /metrics' figures (hub/stats.py): each is one range of this index.
CREATE INDEX IF NOT EXISTS events_stats
    ON events (event, at, booth_id, set_name, clip, finished, listened_ms);
-- Named admins (hub/admins.py): personal tokens, stored only as sha256 hex digests.
CREATE TABLE IF NOT EXISTS admins (
    name TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    revoked_at REAL
);
-- Every change, who made it and when (hub/audit.py).
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    actor TEXT NOT NULL,               -- the admin's name (hub/admins.py), or "bootstrap"
    action TEXT NOT NULL,              -- publish, retire, reinstate, assign, rollback, booth add...
    subject TEXT NOT NULL,             -- the set, clip, group, booth or admin it is about
    detail TEXT NOT NULL,
    sets TEXT NOT NULL DEFAULT ','     -- the sets it concerns: ",lobby,hall,"
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
"""


class Cursor(Protocol):
    """What `transaction()` yields: sqlite3's cursor, or hub/pgdb.py's adapter over psycopg."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...


def open_database(path: Path, url: str = "") -> Database:
    """PostgreSQL if `url` (postgresql://...) is given, else the embedded SQLite file."""
    if url:
        from hub.pgdb import PostgresDatabase

        return PostgresDatabase(url)
    return Database(path)


class Database:
    """One connection, serialised by a lock (the hub's writes are few and small).

    Statements use `?` placeholders and portable SQL (ON CONFLICT, rowcount), so hub/pgdb.py
    can override only the connection: `query`, `transaction` and `close`.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.Lock()
        self._migrate(str(path))

    engine: Engine = "sqlite"

    def _migrate(self, where: str) -> None:
        """Run the migrations this database lacks (hub/migrations.py); `migrated` lists them."""
        from hub.migrations import migrate

        self.migrated = migrate(self, where)

    def migration_transaction(self) -> contextlib.AbstractContextManager[Cursor]:
        """A write transaction no other hub process runs at the same time (BEGIN IMMEDIATE
        holds SQLite's write lock; a second hub waits for it, up to the 5 s busy timeout)."""
        return self.transaction()

    def record_upload(self, path: str, sha256: str, length: int) -> None:
        with self.transaction() as cur:
            cur.execute(
                "INSERT INTO uploads (path, sha256, length, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (path) DO UPDATE SET sha256 = excluded.sha256, "
                "length = excluded.length, at = excluded.at",
                (path, sha256, length, time.time()),
            )

    def record_publish(self, targets_version: int, snapshot_version: int, sets: list[str]) -> None:
        with self.transaction() as cur:
            cur.execute(
                "INSERT INTO publishes (at, targets_version, snapshot_version, sets) "
                "VALUES (?, ?, ?, ?)",
                (time.time(), targets_version, snapshot_version, ",".join(sets)),
            )

    def publishes(self, limit: int = 50) -> list[dict[str, object]]:
        rows = self.query(
            "SELECT at, targets_version, snapshot_version, sets FROM publishes "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [
            {"at": r[0], "targets_version": r[1], "snapshot_version": r[2], "sets": r[3]}
            for r in rows
        ]

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read-only statement (for the dashboard and metrics)."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error).

        Statements use `?` placeholders and portable SQL (ON CONFLICT DO NOTHING, rowcount), so a
        PostgreSQL layer with the same method can take over (psycopg's `%s`).
        """
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()
