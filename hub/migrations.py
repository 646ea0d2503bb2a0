"""Versioned migrations of the hub's database, on SQLite and PostgreSQL.

`schema_migrations` holds one row per step applied (version, name, Unix time). `migrate()` runs
the steps after the newest applied, each in its own transaction together with its row, under a
lock (SQLite's BEGIN IMMEDIATE; PostgreSQL's transaction-scoped advisory lock), re-reading the
applied version inside it: hub workers starting together run each step once. Step 1 is the
schema as the hub made it before migrations existed (CREATE TABLE IF NOT EXISTS), so a database
that hub created is recognised and only stamped. A database with a step this code does not know
is refused (`DatabaseTooNew`), never changed.

To add a step: append a `Step` to STEPS with the next version; keep it additive where it can be
(ADD COLUMN, CREATE INDEX), so the previous hub release still runs on it after a rollback
(docs/state-and-migrations.md). Never edit a step that has shipped.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from hub.db import SCHEMA, Cursor, Engine

log = logging.getLogger(__name__)
TABLE = "schema_migrations"
ADVISORY_LOCK = 0x6B696F736B  # "kiosk": one key for every hub sharing the database


class Migratable(Protocol):
    """What a database layer gives `migrate`: its engine and a locked write transaction."""

    engine: Engine

    def migration_transaction(self) -> Any: ...


class DatabaseTooNew(RuntimeError):
    """The database has steps this hub does not know: a newer hub migrated it."""

    def __init__(self, where: str, applied: int, name: str, latest: int) -> None:
        super().__init__(
            f"{where}: the database is at migration {applied} ({name}); this hub knows "
            f"migrations up to {latest}: run the newer hub, or restore the backup taken before "
            "it migrated"
        )
        self.applied = applied
        self.latest = latest


@dataclass(frozen=True)
class Step:
    """One migration: `run(cursor, engine)` makes the change inside the step's transaction."""

    version: int
    name: str
    run: Callable[[Cursor, Engine], None]


def statements(script: str) -> list[str]:
    """A script's statements (split at a `;` that ends a line; comments stay with them)."""
    parts = re.split(r";\s*$", script, flags=re.MULTILINE)
    return [p.strip() for p in parts if re.search(r"^\s*[A-Za-z]", p, re.MULTILINE)]


def _baseline(cur: Cursor, engine: Engine) -> None:
    script = SCHEMA
    if engine == "postgresql":
        from hub.pgdb import pg_schema  # psycopg: only with the hub's postgres extra

        script = pg_schema(SCHEMA)
    for sql in statements(script):
        cur.execute(sql)


def _update_columns(cur: Cursor, engine: Engine) -> None:
    """booths.version, update_state and update_version: the rollout's figures by plain SQL
    (/metrics and the dashboard count them on every request), filled from stored heartbeats."""
    from kiosk.fleet.records import readable_heartbeat

    for column in UPDATE_COLUMNS:
        cur.execute(f"ALTER TABLE booths ADD COLUMN {column} TEXT")
    # Covering the rollout's GROUP BY: 10,000 booths in 7 ms instead of 23 (bench.migrations).
    cur.execute("CREATE INDEX booths_software ON booths (grp, version, update_state, revoked_at)")
    rows = cur.execute("SELECT id, heartbeat FROM booths WHERE heartbeat IS NOT NULL").fetchall()
    for booth_id, heartbeat in rows:
        hb = readable_heartbeat(heartbeat) or {}
        values = [hb.get(c) if isinstance(hb.get(c), str) else None for c in UPDATE_COLUMNS]
        if any(v is not None for v in values):
            cur.execute(
                "UPDATE booths SET version = ?, update_state = ?, update_version = ? WHERE id = ?",
                (*values, booth_id),
            )


UPDATE_COLUMNS = ("version", "update_state", "update_version")
STEPS: list[Step] = [
    Step(1, "baseline: the schema before migrations", _baseline),
    Step(2, "booths: version, update_state, update_version", _update_columns),
]
LATEST = STEPS[-1].version


def _create_table(engine: Engine) -> str:
    at = "DOUBLE PRECISION" if engine == "postgresql" else "REAL"
    return (
        f"CREATE TABLE IF NOT EXISTS {TABLE} (version INTEGER PRIMARY KEY, "
        f"name TEXT NOT NULL, applied_at {at} NOT NULL)"
    )


def applied(cur: Cursor) -> tuple[int, str]:
    """The newest step applied (0, "" for none)."""
    row = cur.execute(f"SELECT version, name FROM {TABLE} ORDER BY version DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else (0, "")


def migrate(db: Migratable, where: str, steps: list[Step] = STEPS) -> list[int]:
    """Bring the database up to the last of `steps`; returns the versions this call ran.
    Raises DatabaseTooNew (naming `where`) if it is past them."""
    ran: list[int] = []
    latest = steps[-1].version
    while True:
        with db.migration_transaction() as cur:
            cur.execute(_create_table(db.engine))
            version, name = applied(cur)
            if version > latest:
                raise DatabaseTooNew(where, version, name, latest)
            if version == latest:
                return ran
            step = steps[version]  # versions are 1, 2, ... in order
            assert step.version == version + 1, f"migration {step.version} out of order"
            step.run(cur, db.engine)
            cur.execute(
                f"INSERT INTO {TABLE} (version, name, applied_at) VALUES (?, ?, ?)",
                (step.version, step.name, time.time()),
            )
        log.info("database %s: migration %d (%s) applied", where, step.version, step.name)
        ran.append(step.version)
