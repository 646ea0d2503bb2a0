"""The hub's database: SQLite by default, through a small layer PostgreSQL can replace."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

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
"""


class Database:
    """One connection, serialised by a lock (the hub's writes are few and small)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    def record_upload(self, path: str, sha256: str, length: int) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO uploads (path, sha256, length, at) VALUES (?, ?, ?, ?)",
                (path, sha256, length, time.time()),
            )

    def record_publish(self, targets_version: int, snapshot_version: int, sets: list[str]) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO publishes (at, targets_version, snapshot_version, sets) "
                "VALUES (?, ?, ?, ?)",
                (time.time(), targets_version, snapshot_version, ",".join(sets)),
            )

    def publishes(self, limit: int = 50) -> list[dict[str, object]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT at, targets_version, snapshot_version, sets FROM publishes "
                "ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            {"at": r[0], "targets_version": r[1], "snapshot_version": r[2], "sets": r[3]}
            for r in rows
        ]

    def close(self) -> None:
        self._conn.close()
