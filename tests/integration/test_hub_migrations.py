"""The hub database's versioned migrations, on SQLite and on Debian's PostgreSQL."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from hub.db import SCHEMA, Database, open_database
from hub.migrations import LATEST, STEPS, DatabaseTooNew, statements
from hub.pgdb import pg_schema
from tests.postgres import Postgres

# Step 1 is what hubs before migrations made: it must never change (add a step instead).
BASELINE_SHA256 = "69d3980ea18ed8a918a08ba8a068c84a06d1fa4bb2c6bdf71a325702bb500dc1"


class Made:
    """An empty database of one engine: its URL or file, and raw SQL on its own connection."""

    def __init__(self, engine: str, tmp_path: Path, postgres: Postgres | None) -> None:
        self.engine = engine
        self.path = tmp_path / "hub.sqlite3"
        self.url = postgres.new_database() if postgres is not None else ""

    def sql(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        if self.url:
            with psycopg.connect(self.url, autocommit=True) as conn:
                cur = conn.execute(sql.replace("?", "%s").encode(), params or None)
                return cur.fetchall() if cur.description else []
        lite = sqlite3.connect(self.path, isolation_level=None)
        try:
            return lite.execute(sql, params).fetchall()
        finally:
            lite.close()

    def baseline(self) -> None:
        """The tables exactly as the hub made them before migrations existed."""
        for sql in statements(pg_schema(SCHEMA) if self.url else SCHEMA):
            self.sql(sql)

    def open(self) -> Database:
        return open_database(self.path, self.url)


@pytest.fixture(params=["sqlite", "postgresql"])
def made(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Made]:
    pg = request.getfixturevalue("postgres") if request.param == "postgresql" else None
    yield Made(request.param, tmp_path, pg)


def columns(made: Made, table: str) -> set[str]:
    if made.url:
        rows = made.sql(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", (table,)
        )
    else:
        rows = made.sql(f"SELECT name FROM pragma_table_info('{table}')")
    return {str(r[0]) for r in rows}


def test_the_baseline_step_is_frozen() -> None:
    assert hashlib.sha256(SCHEMA.encode()).hexdigest() == BASELINE_SHA256
    assert [s.version for s in STEPS] == list(range(1, LATEST + 1))


def test_a_database_made_before_migrations_is_migrated_with_its_rows(made: Made) -> None:
    made.baseline()
    hb = '{"version":"1.4.0","update_state":"rolled_back","update_version":"1.5.0","set":"x"}'
    made.sql(
        "INSERT INTO booths (id, name, grp, token_sha256, enrolled_at, last_seen, heartbeat) "
        "VALUES ('b1', 'lobby', 'emea', 'd1', 1.0, 2.0, ?), "
        "('b2', 'hall', 'emea', 'd2', 1.0, 2.0, '{not json'), "
        "('b3', 'desk', 'apac', 'd3', 1.0, NULL, NULL)",
        (hb,),
    )
    made.sql(
        "INSERT INTO events (id, booth_id, event, at, received_at, body) "
        "VALUES ('e1', 'b1', 'lift', 5.0, 6.0, '{}')"
    )
    made.sql("INSERT INTO admins (name, token_sha256, created_at) VALUES ('ann', 'a', 1.0)")
    assert "version" not in columns(made, "booths")
    db = made.open()
    try:
        assert db.migrated == [1, 2]
        rows = db.query(
            "SELECT id, name, heartbeat, version, update_state, update_version FROM booths "
            "ORDER BY id"
        )
        assert rows == [
            ("b1", "lobby", hb, "1.4.0", "rolled_back", "1.5.0"),
            ("b2", "hall", "{not json", None, None, None),
            ("b3", "desk", None, None, None, None),
        ]
        assert db.query("SELECT id, event, at FROM events") == [("e1", "lift", 5.0)]
        assert db.query("SELECT name FROM admins") == [("ann",)]
        versions = db.query("SELECT version, name FROM schema_migrations ORDER BY version")
        assert [v for v, _ in versions] == [1, 2]
    finally:
        db.close()
    assert {"version", "update_state", "update_version"} <= columns(made, "booths")
    again = made.open()  # each step ran once: a restart runs none
    assert again.migrated == []
    again.close()


def test_a_new_database_gets_every_step(made: Made) -> None:
    db = made.open()
    assert db.migrated == [s.version for s in STEPS]
    db.close()
    assert "update_state" in columns(made, "booths")


def test_a_newer_database_is_refused_unchanged(made: Made) -> None:
    made.open().close()
    made.sql(
        "INSERT INTO schema_migrations (version, name, applied_at) "
        "VALUES (?, 'from the future', 0)",
        (LATEST + 1,),
    )
    with pytest.raises(DatabaseTooNew) as e:
        made.open()
    text = str(e.value)
    assert f"migration {LATEST + 1} (from the future)" in text
    assert f"migrations up to {LATEST}" in text
    assert (str(made.path) if made.engine == "sqlite" else "postgresql://") in text
    rows = made.sql("SELECT version FROM schema_migrations ORDER BY version")
    assert [r[0] for r in rows] == [*range(1, LATEST + 1), LATEST + 1]


def test_hubs_starting_together_run_each_step_once(made: Made) -> None:
    made.baseline()
    opened: list[Database] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def hub_worker() -> None:
        start.wait()
        try:
            opened.append(made.open())
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=hub_worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ran = sorted(v for db in opened for v in db.migrated)
    assert ran == [1, 2]
    for db in opened:
        db.close()


def test_the_hub_command_refuses_a_newer_database(tmp_path: Path) -> None:
    from hub.cli import main
    from tests.hubproc import init_hub_data

    data = init_hub_data(tmp_path / "hub-data", tmp_path / "keys")
    open_database(data / "hub.sqlite3").close()
    lite = sqlite3.connect(data / "hub.sqlite3")
    lite.execute("INSERT INTO schema_migrations VALUES (?, 'later', 0)", (LATEST + 1,))
    lite.commit()
    lite.close()
    assert main(["admin", "list", "--data", str(data)]) == 78
    assert main(["serve", "--data", str(data), "--port", "1"]) == 78  # before it listens
