"""The durable event queue: every event lands here before it is sent to the hub.

SQLite in WAL mode under the state directory. Events are buffered by `publish()` and committed
by `flush()` in one transaction per main-loop turn (never one write per audio block). A commit
survives a killed process; with `synchronous=NORMAL` a power cut can lose at most the last
commits, never the file. Each event carries a client-made id so the hub can store it once.
The queue is bounded: past `max_events` the oldest are dropped and counted. Each record gets
`at`, the booth's wall clock (Unix s) when it entered the queue, and is fitted to the hub's
bounds (kiosk.fleet.fit; the hub checks with kiosk.fleet.records.EventRecord): what the queue
holds is what the hub takes.

Schema (kiosk.stateschema, "outbox"): `PRAGMA user_version` and the one-row table
`schema_info (readable_by)`; a file with neither is version 1. A file a newer version wrote in a
way this one cannot read is left untouched: `open_outbox` queues beside it in
`outbox-schema<N>.sqlite3` (N: this code's schema), so the booth keeps recording.

Threads: the main loop owns one Outbox (publish, flush); the fleet thread opens its own on the
same file (batch, ack, checkpoint): WAL lets the two connections work side by side, and every
write is one short IMMEDIATE transaction. Its checkpoint fsyncs the WAL off the main loop, so a
power cut loses at most what was committed since the fleet thread's last pass.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk import stateschema
from kiosk.fleet.fit import fit_event
from kiosk.stateschema import Stamp

log = logging.getLogger(__name__)
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,  -- no AUTOINCREMENT: it rewrites sqlite_sequence per commit
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters (name, value) VALUES ('dropped', 0);
CREATE TABLE IF NOT EXISTS schema_info (readable_by INTEGER NOT NULL);
"""
# Statements that take a file from schema N-1 to N (kiosk.stateschema "outbox"), additive only.
MIGRATIONS: dict[int, list[str]] = {}
SIDE_FILE = "outbox-schema{schema}.sqlite3"


def read_stamp(db: sqlite3.Connection) -> Stamp:
    """The outbox file's schema stamp (version 1 when it has none)."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    has_info = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_info'"
    ).fetchone()
    row = db.execute("SELECT readable_by FROM schema_info").fetchone() if has_info else None
    schema = version if version >= 1 else stateschema.UNVERSIONED
    return Stamp(schema, row[0] if row and isinstance(row[0], int) else schema)


def open_outbox(path: Path, max_events: int = 50_000) -> Outbox:
    """The outbox at `path`, or, if its file has a schema this code cannot read (a newer
    version's), one beside it (logged as an error; the file is kept for when that version
    comes back)."""
    try:
        return Outbox(path, max_events)
    except stateschema.StateSchemaError as e:
        side = path.with_name(SIDE_FILE.format(schema=stateschema.current("outbox").schema))
        log.error("%s; queueing events in %s meanwhile", e, side)
        return Outbox(side, max_events)


_SYNCHRONOUS = {"NORMAL": "NORMAL", "FULL": "FULL"}


@dataclass(frozen=True)
class Queued:
    seq: int
    id: str
    record: dict[str, Any]


class Outbox:
    """One connection, used by one thread: the main loop's (publish, flush) or the fleet
    thread's (batch, ack, checkpoint)."""

    def __init__(
        self,
        path: Path,
        max_events: int = 50_000,
        wall: Callable[[], float] = time.time,
        synchronous: str = "NORMAL",
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_events = max_events
        self.wall = wall
        # Made by whoever builds the booth, then used by one thread at a time: the booth's loop
        # (the simulator runs it on a thread of its own).
        self._db = sqlite3.connect(
            path, isolation_level=None, timeout=10.0, check_same_thread=False
        )
        # New files only: 1 KiB pages cut the bytes each small commit writes to the WAL by
        # about 3x (bench/fleet_booth.py).
        try:
            found = read_stamp(self._db)
            stateschema.check("outbox", path, found)
        except BaseException:
            self._db.close()
            raise
        self._db.execute("PRAGMA page_size=1024")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={_SYNCHRONOUS[synchronous]}")
        self._db.executescript(SCHEMA)
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version == 0 or found != stateschema.current("outbox"):
            self._migrate(found)
        self._pending: list[tuple[str, str]] = []
        self.on_commit: Callable[[], None] | None = None  # after each flush that committed

    def _migrate(self, found: Stamp) -> None:
        """Run the steps from `found.schema` up (none yet: version 1 is today's tables), then
        stamp the file, in one transaction."""
        stamp = stateschema.current("outbox")
        with self._transaction():
            for version in range(found.schema + 1, stamp.schema + 1):
                for sql in MIGRATIONS[version]:
                    self._db.execute(sql)
            if found.schema > stamp.schema:  # readable, written by a newer version: keep its
                return  # stamp, so the newer version knows its additions are there
            self._db.execute(f"PRAGMA user_version={stamp.schema:d}")
            self._db.execute("DELETE FROM schema_info")
            self._db.execute(
                "INSERT INTO schema_info (readable_by) VALUES (?)", (stamp.readable_by,)
            )

    def publish(self, record: dict[str, Any]) -> None:
        """Buffer one event with a fresh id and its wall-clock time; `flush()` makes it durable.
        Strings too long are cut and impossible numbers left out; an event with no valid name
        or time is logged and not queued (the hub would refuse it)."""
        stamped = fit_event(record, self.wall())
        if stamped is None:
            log.error("event %.100r cannot be sent to the hub: not queued", record.get("event"))
            return
        self._pending.append((uuid.uuid4().hex, json.dumps(stamped, separators=(",", ":"))))

    def flush(self) -> int:
        """Commit buffered events in one transaction; returns how many."""
        if not self._pending:
            return 0
        rows, self._pending = self._pending, []
        try:
            self._commit(rows)
        except sqlite3.Error:
            self._pending = rows + self._pending  # keep them for the next try (disk full?)
            raise
        if self.on_commit is not None:
            self.on_commit()
        return len(rows)

    def _commit(self, rows: list[tuple[str, str]]) -> None:
        with self._transaction():
            self._db.executemany("INSERT INTO events (id, body) VALUES (?, ?)", rows)
            # Keep the newest `max_events` seq numbers: two index seeks, where COUNT(*) would
            # read the whole queue on every commit once full (1.7 ms at 50,000 on a PC).
            (newest,) = self._db.execute("SELECT MAX(seq) FROM events").fetchone()
            cur = self._db.execute("DELETE FROM events WHERE seq <= ?", (newest - self.max_events,))
            if cur.rowcount > 0:
                self._db.execute(
                    "UPDATE counters SET value = value + ? WHERE name = 'dropped'", (cur.rowcount,)
                )

    def batch(self, limit: int = 500) -> list[Queued]:
        """The oldest committed events, for one upload."""
        rows = self._db.execute(
            "SELECT seq, id, body FROM events ORDER BY seq LIMIT ?", (limit,)
        ).fetchall()
        return [Queued(seq, id_, json.loads(body)) for seq, id_, body in rows]

    def ack(self, up_to_seq: int) -> None:
        """The hub stored everything up to `up_to_seq`: forget it."""
        with self._transaction():
            self._db.execute("DELETE FROM events WHERE seq <= ?", (up_to_seq,))

    def ack_ids(self, ids: Sequence[str]) -> None:
        """The hub holds (or refused for good) these events: forget them."""
        with self._transaction():
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                self._db.execute(f"DELETE FROM events WHERE id IN ({marks})", chunk)

    def checkpoint(self) -> None:
        """Fsync the WAL and copy it into the database (PASSIVE: never waits for the writer)."""
        self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def dropped(self) -> int:
        (value,) = self._db.execute("SELECT value FROM counters WHERE name = 'dropped'").fetchone()
        return int(value)

    def __len__(self) -> int:
        (count,) = self._db.execute("SELECT COUNT(*) FROM events").fetchone()
        return int(count)

    def close(self) -> None:
        self.flush()
        self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
