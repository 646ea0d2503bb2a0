"""A read-only SQLite connection for the dashboard and /metrics.

Their queries take up to hundreds of milliseconds on a large events table. On the hub's own
connection (hub.db.Database, one lock) they would hold up every booth's write meanwhile; on
their own connection, in WAL mode, readers and the writer do not wait for each other.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class ReadOnlyDatabase:
    """Queries on a `mode=ro` connection to the hub's database (which must exist)."""

    def __init__(self, path: Path) -> None:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._lock = threading.Lock()

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        self._conn.close()
