"""A throwaway hub for proving bench.fleet before the fleet API exists in this branch:
`python -m bench.stubhub serve --data DIR --port N`.

The real hub app plus two stand-ins outside /api/ (whose middleware wants the admin token):

    POST /stub/v1/heartbeat   booth bearer credential; JSON heartbeat -> booths row
    POST /stub/v1/events      booth bearer credential; {"events": [{"id", "record"}]} -> rows

They do the work the real endpoints must at least do (find the booth by its credential's
sha256, write its heartbeat, insert its events once each) on their own SQLite connection, in
`async def` routes: each write takes well under a millisecond. (As plain `def` routes, run in
the thread pool, this stub saturated at about 300 requests/s on the shared 2-core machine.)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from hub.app import create_app
from hub.cli import serve_app
from hub.settings import Settings


def add_stub_routes(app: FastAPI, database: Path) -> None:
    conn = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")

    def booth_id(request: Request) -> str:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        digest = hashlib.sha256(credential.encode()).hexdigest()
        row = conn.execute(
            "SELECT id FROM booths WHERE token_sha256 = ? AND revoked_at IS NULL", (digest,)
        ).fetchone()
        if scheme.lower() != "bearer" or row is None:
            raise HTTPException(401, "booth credential required")
        return str(row[0])

    @app.post("/stub/v1/heartbeat")
    async def heartbeat(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        booth = booth_id(request)
        conn.execute(
            "UPDATE booths SET last_seen = ?, heartbeat = ? WHERE id = ?",
            (time.time(), json.dumps(body), booth),
        )
        return {"ok": True}

    @app.post("/stub/v1/events")
    async def events(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        booth = booth_id(request)
        now = time.time()
        rows = [
            (
                str(e["id"]),
                booth,
                str(r["event"]),
                float(r["at"]),
                now,
                r.get("set"),
                r.get("clip"),
                r.get("listened_ms"),
                None if r.get("finished") is None else int(r["finished"]),
                json.dumps(r),
            )
            for e in body.get("events", [])
            for r in [e["record"]]
        ]
        conn.execute("BEGIN")
        conn.executemany("INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        conn.execute("COMMIT")
        return {"stored": len(rows)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stubhub")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    settings = Settings(args.data)
    app = create_app(settings)
    add_stub_routes(app, settings.database)
    serve_app(app, "127.0.0.1", args.port)  # as `kiosk-hub serve` does
    return 0


if __name__ == "__main__":
    sys.exit(main())
