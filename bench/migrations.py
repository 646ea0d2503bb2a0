"""What schema versions cost: `python -m bench.migrations [--booths 10000] [--postgres]`.

1. the hub's migration 2 (booths.version, update_state, update_version, filled from every stored
   heartbeat) on a database the baseline made, with `--booths` booths, on SQLite (and on
   Debian's PostgreSQL with `--postgres`);
2. the rollout figures the dashboard and /metrics compute per request (hub.rollout.software) on
   that fleet, median of 20;
3. the booth: opening an outbox of 50,000 queued events that has no stamp yet (the one-time
   stamp), then opening it again (the check every start pays).

One human line per figure on stdout, then one JSON object with every figure as the last line.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from hub import rollout
from hub.db import SCHEMA, open_database
from hub.migrations import statements
from hub.pgdb import pg_schema
from kiosk.outbox import Outbox
from kiosk.release.manifest import Channels
from tests.postgres import Postgres

CHANNELS = Channels({"stable": "1.4", "canary": "1.5"}, {"g7": "canary"})


def heartbeat(rng: random.Random) -> str:
    body: dict[str, object] = {"set": "lobby", "set_version": 3, "sync_state": "ok"}
    if rng.random() < 0.8:  # the rest are older booths that do not report their software
        body |= {
            "version": rng.choice(["1.3", "1.4", "1.5"]),
            "update_state": rng.choice(["idle", "idle", "idle", "downloading", "staged"]),
            "update_version": "1.4",
        }
    return json.dumps(body, separators=(",", ":"))


def baseline_rows(booths: int) -> list[tuple[object, ...]]:
    rng = random.Random(1)
    return [
        (f"b{i}", f"booth {i}", f"g{i % 10}", uuid.uuid4().hex, 0.0, 1.0, heartbeat(rng))
        for i in range(booths)
    ]


INSERT = (
    "INSERT INTO booths (id, name, grp, token_sha256, enrolled_at, last_seen, heartbeat) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def sqlite_baseline(path: Path, booths: int) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.executemany(INSERT, baseline_rows(booths))
    conn.commit()
    conn.close()


def postgres_baseline(url: str, booths: int) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for sql in statements(pg_schema(SCHEMA)):
            conn.execute(sql.encode())
        with conn.cursor() as cur:
            cur.executemany(INSERT.replace("?", "%s").encode(), baseline_rows(booths))


def measure(path: Path, url: str, label: str) -> dict[str, float]:
    t0 = time.perf_counter()
    db = open_database(path, url)
    migrate_ms = (time.perf_counter() - t0) * 1000
    assert db.migrated == [1, 2], db.migrated
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        rollout.software(db, CHANNELS)
        times.append((time.perf_counter() - t0) * 1000)
    db.close()
    software_ms = statistics.median(times)
    print(f"{label}: migration 2 {migrate_ms:.0f} ms; rollout figures {software_ms:.1f} ms")
    return {f"{label}_migrate_ms": migrate_ms, f"{label}_rollout_ms": software_ms}


def outbox_open(folder: Path, events: int = 50_000) -> dict[str, float]:
    path = folder / "outbox.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, body TEXT "
        "NOT NULL); CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL); "
        "INSERT INTO counters VALUES ('dropped', 0);"
    )
    body = '{"event":"clip_end","at":1.0,"listened_ms":4000}'
    conn.executemany(
        "INSERT INTO events (id, body) VALUES (?, ?)",
        ((uuid.uuid4().hex, body) for _ in range(events)),
    )
    conn.commit()
    conn.close()
    t0 = time.perf_counter()
    Outbox(path).close()
    first_ms = (time.perf_counter() - t0) * 1000
    again = []
    for _ in range(10):
        t0 = time.perf_counter()
        Outbox(path).close()
        again.append((time.perf_counter() - t0) * 1000)
    again_ms = statistics.median(again)
    print(f"booth: outbox of {events} events: first open (stamp) {first_ms:.1f} ms, ", end="")
    print(f"then {again_ms:.1f} ms")
    return {"outbox_first_open_ms": first_ms, "outbox_open_ms": again_ms}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--booths", type=int, default=10_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    figures: dict[str, float] = {"booths": args.booths}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sqlite_baseline(folder / "hub.sqlite3", args.booths)
        figures |= measure(folder / "hub.sqlite3", "", "sqlite")
        if args.postgres:
            with Postgres() as pg:
                url = pg.new_database()
                postgres_baseline(url, args.booths)
                figures |= measure(folder, url, "postgresql")
        figures |= outbox_open(folder)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
