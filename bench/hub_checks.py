"""What the hub's checks cost: `python -m bench.hub_checks [--requests 1000]` (about 10 s).

The real hub app in process (httpx over ASGI, no network), its rate limits raised out of the
way: CPU time per heartbeat and per batch of 8 events (bench.fleet's bodies), client side
included, with every check on the path (body cap, origin and guess middlewares, the record
models, the per-booth limiter). Then, in CPU time, the booth's side: fitting one event to
EventRecord as Outbox.publish does, and the hub's strict check of one stored record.

One human line per figure on stdout, then one JSON object with every figure as the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.fleet import event_records, heartbeat_body
from hub.app import create_app
from hub.settings import Settings
from kiosk.fleet.records import EventRecord, fit_event
from tests.fuzz_hub import WIDE_OPEN
from tests.hubproc import init_hub_data


async def per_request(app: Any, n: int) -> dict[str, float]:
    rng = random.Random(1)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        admin = {"Authorization": f"Bearer {os.environ['KIOSK_HUB_ADMIN_TOKEN']}"}
        made = await client.post("/api/v1/booths", json={"group": "g"}, headers=admin)
        enrolled = await client.post("/api/v1/enroll", json={"token": made.json()["token"]})
        booth = {"Authorization": f"Bearer {enrolled.json()['credential']}"}
        beats = [heartbeat_body(1, time.time(), 60, rng) for _ in range(n)]
        batches = [
            {
                "events": [
                    {"id": uuid.uuid4().hex, "record": r} for r in event_records(1.7e9, 8, rng)
                ]
            }
            for _ in range(n)
        ]
        out = {}
        for kind, path, bodies in (
            ("heartbeat", "/api/v1/heartbeat", beats),
            ("events_8", "/api/v1/events", batches),
        ):
            start = time.process_time()
            for body in bodies:
                resp = await client.post(path, json=body, headers=booth)
                if resp.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {resp.status_code}: {resp.text[:200]}")
            out[f"{kind}_cpu_ms"] = round((time.process_time() - start) / n * 1000, 3)
    return out


def per_record(n: int) -> dict[str, float]:
    records = event_records(1.7e9, 8, random.Random(2))
    start = time.process_time()
    for i in range(n):
        fit_event(records[i % 8], 1.7e9)
    fit_us = (time.process_time() - start) / n * 1e6
    start = time.process_time()
    for i in range(n):
        EventRecord.model_validate(records[i % 8]).model_dump_json(exclude_unset=True)
    check_us = (time.process_time() - start) / n * 1e6
    return {"booth_fit_event_us": round(fit_us, 1), "hub_check_event_us": round(check_us, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hub_checks")
    parser.add_argument("--requests", type=int, default=1000, help="of each kind (1000)")
    args = parser.parse_args()
    os.environ["KIOSK_HUB_ADMIN_TOKEN"] = "bench-admin-token"
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-checks-") as tmp:
        with contextlib.redirect_stdout(io.StringIO()):
            data = init_hub_data(Path(tmp) / "hub-data", Path(tmp) / "keys")
        app = create_app(Settings(data, rate_limits=WIDE_OPEN))
        figures = asyncio.run(per_request(app, args.requests))
    figures |= per_record(20_000)
    print(f"heartbeat: {figures['heartbeat_cpu_ms']} ms CPU per request (client included)")
    print(f"batch of 8 events: {figures['events_8_cpu_ms']} ms CPU per request")
    print(f"booth: fit_event {figures['booth_fit_event_us']} us per event")
    print(f"hub: check one event {figures['hub_check_event_us']} us")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
