"""Heartbeats and event batches from simulated booths against one hub process:
`python -m bench.fleet [--booths 10000] [--duration 60] [--stub]`.

Booths are seeded straight into the hub's `booths` table (credential "cred-<n>", stored as its
sha256), so no enrollment is needed; `--seed-events` pre-fills `events` as a hub that has run
for months would have it. Then, spread evenly over `--duration` seconds in a random booth order,
every booth sends one heartbeat (POST `--heartbeat-path`) and one batch of
`--events-per-batch` events (POST `--events-path`), each with `Authorization: Bearer <cred>`,
from one asyncio process (bench.rawhttp: keep-alive, at most `--connections` at once;
`--new-connections` opens one per request).

`--stub` runs bench.stubhub (the real hub plus stand-in endpoints at /stub/v1/...) instead of
`kiosk-hub serve`: it proves the generator before the fleet API is merged. `--url` aims at a
hub that is already running (its CPU is then read from `--pid`, if given).

Figures: request latency (request sent -> response read) p50/p99/max per kind and overall,
against the goal p99 <= 50 ms; HTTP statuses; the generator's lag (scheduled -> sent: if it
grows, the generator, not the hub, was the limit); the hub's CPU over the load (% of one
core, /proc/PID/stat) and the generator's; GET /metrics every `--scrape-every` s during the
load, as Prometheus would (each scrape's time; they are not in the latencies); then, with the
fleet's rows in place, GET /metrics, /dashboard and /dashboard/clips (median of 3), and
booths_online as /metrics reports it.

One human line per figure on stdout, then one JSON object with every figure as the last line.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import urllib.parse
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.common import BenchError, cpu_seconds, run_main
from bench.rawhttp import Pool
from hub.db import Database
from tests.fleetrows import FleetRows
from tests.hubproc import HubProcess, init_hub_data

GOAL_P99_MS = 50.0
TOKEN = "bench-admin-token"
CLIPS = [f"clip-{i:02d}.opus" for i in range(20)]


def progress(text: str) -> None:
    print(f"bench.fleet: {text}", file=sys.stderr, flush=True)


def credential(n: int) -> str:
    return f"cred-{n}"


def heartbeat_body(n: int, now: float, interval_s: float, rng: random.Random) -> dict[str, Any]:
    """A heartbeat with every key of the contract."""
    return {
        "version": "0.1.0",
        "set": "lobby",
        "set_version": 12,
        "sync_state": "ok" if rng.random() > 0.02 else "stale",
        "sync_reason": None,
        "last_lift": now - rng.uniform(0, 3600),
        "audio_ok": True,
        "hook_ok": True,
        "disk_free_bytes": 12_000_000_000,
        "uptime_s": rng.uniform(0, 1e6),
        "sent_at": now,
        "clock_offset_s": rng.uniform(-0.5, 0.5),
        "events_dropped": 0,
        "queue_len": 0,
        "heartbeat_interval": interval_s,
    }


def event_records(now: float, count: int, rng: random.Random) -> list[dict[str, Any]]:
    """`count` events as a booth records them: lift, clip_start, clip_end, hangup, repeated
    (`at`: the booth's wall clock)."""
    events: list[dict[str, Any]] = []
    t = now - 120
    while len(events) < count:
        clip = rng.choice(CLIPS)
        listened = rng.randint(1000, 60000)
        finished = listened > 45000
        for name, extra in (
            ("lift", {}),
            ("clip_start", {"set": "lobby", "clip": clip, "title": f"Story {clip[5:7]}"}),
            (
                "clip_end",
                {"set": "lobby", "clip": clip, "listened_ms": listened, "finished": finished},
            ),
            ("hangup", {"held_ms": listened + 300}),
        ):
            events.append({"event": name, "at": t, **extra})
            t += listened / 2000
    return events[:count]


def event_batch(now: float, count: int, rng: random.Random) -> dict[str, Any]:
    """The body of POST /api/v1/events: each record with the id the booth gave it."""
    records = event_records(now, count, rng)
    return {"events": [{"id": str(uuid.uuid4()), "record": r} for r in records]}


def interval_s(args: argparse.Namespace) -> float:
    """The booths' heartbeat interval: one a minute, or one per run if the run is longer."""
    return max(60.0, float(args.duration))


def seed_events(rows: FleetRows, booths: int, count: int, now: float, seed: int) -> None:
    """`count` past events (90 days, all booths) in chunks of 50,000."""
    rng = random.Random(seed)
    done = 0
    while done < count:
        chunk = []
        for _ in range(min(50_000, count - done) // 4):
            booth = f"booth-{rng.randrange(booths)}"
            batch = event_records(now - rng.uniform(0, 90 * 86400), 4, rng)
            chunk += [(booth, e["event"], e["at"], e) for e in batch]
        rows.events(chunk)
        done += max(len(chunk), 1)
        progress(f"seeded {done:,} of {count:,} events")


@dataclass
class Results:
    latency_ms: dict[str, list[float]] = field(default_factory=lambda: {"hb": [], "ev": []})
    lag_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    scrape_ms: list[float] = field(default_factory=list)


async def send(
    pool: Pool,
    kind: str,
    path: str,
    cred: str,
    body: dict[str, Any],
    due: float,
    results: Results,
    reuse: bool,
) -> None:
    t0 = time.perf_counter()
    results.lag_ms.append((t0 - due) * 1000)
    try:
        status = await pool.request(path, body, {"Authorization": f"Bearer {cred}"}, reuse)
    except (OSError, asyncio.IncompleteReadError, ValueError) as e:
        results.errors[type(e).__name__] += 1
        return
    results.latency_ms[kind].append((time.perf_counter() - t0) * 1000)
    results.statuses[f"{kind} {status}"] += 1


async def scrape(pool: Pool, args: argparse.Namespace, results: Results) -> None:
    """GET /metrics every `--scrape-every` seconds meanwhile, as Prometheus would."""
    headers = {"Authorization": f"Bearer {args.token or TOKEN}"}
    while True:
        await asyncio.sleep(args.scrape_every)
        t0 = time.perf_counter()
        status = await pool.request("/metrics", None, headers)
        results.scrape_ms.append((time.perf_counter() - t0) * 1000)
        results.statuses[f"metrics {status}"] += 1


async def load(args: argparse.Namespace, url: str, interval_s: float) -> tuple[Results, float]:
    """Every booth's heartbeat and event batch, spread over the duration; returns the results
    and the seconds the load took."""
    rng = random.Random(args.seed)
    order = list(range(args.booths))
    rng.shuffle(order)
    step = args.duration / args.booths
    plan = sorted(
        [(i * step, "hb", n) for i, n in enumerate(order)]
        + [((i + 0.5) * step, "ev", n) for i, n in enumerate(order)]
    )
    results = Results()
    parts = urllib.parse.urlsplit(url)
    pool = Pool(parts.hostname or "127.0.0.1", parts.port or 80, args.connections)
    reuse = not args.new_connections
    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter()
    scraper = asyncio.create_task(scrape(pool, args, results)) if args.scrape_every else None
    try:
        for offset, kind, n in plan:
            due = start + offset
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.time()
            if kind == "hb":
                path, body = args.heartbeat_path, heartbeat_body(n, now, interval_s, rng)
            else:
                path, body = args.events_path, event_batch(now, args.events_per_batch, rng)
            task = asyncio.create_task(
                send(pool, kind, path, credential(n), body, due, results, reuse)
            )
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks)
    finally:
        if scraper is not None:
            scraper.cancel()
        pool.close()
    return results, time.perf_counter() - start


def timed_gets(url: str, token: str) -> dict[str, float]:
    """Median ms of 3 GETs of /metrics, /dashboard and /dashboard/clips after logging in."""
    out: dict[str, float] = {}
    with httpx.Client(base_url=url, timeout=60) as client:
        client.post("/login", data={"token": token})
        for name, path, headers in (
            ("metrics", "/metrics", {"Authorization": f"Bearer {token}"}),
            ("dashboard", "/dashboard", {}),
            ("dashboard_clips", "/dashboard/clips?days=30", {}),
        ):
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                resp = client.get(path, headers=headers)
                times.append((time.perf_counter() - t0) * 1000)
                if resp.status_code != 200:
                    raise BenchError(f"GET {path}: HTTP {resp.status_code}")
            out[f"{name}_ms"] = statistics.median(times)
        text = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
    online = [line for line in text.splitlines() if line.startswith("booths_online ")]
    out["booths_online"] = float(online[0].split()[1]) if online else float("nan")
    return out


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    hub: HubProcess | None = None
    pid = args.pid
    url = args.url
    if url is None:
        data = init_hub_data(tmp / "hub-data", tmp / "keys")
        db = Database(data / "hub.sqlite3")
        rows = FleetRows(db)
        rows.booths(
            (
                (f"booth-{n}", f"Booth {n}", f"group-{n % 50}", credential(n))
                for n in range(args.booths)
            ),
            interval_s=interval_s(args),
        )
        progress(f"seeded {args.booths:,} booths")
        seed_events(rows, args.booths, args.seed_events, time.time(), args.seed)
        db.close()
        module = "bench.stubhub" if args.stub else "hub.cli"
        hub = HubProcess(data, TOKEN, module=module).start()
        pid, url = hub.pid, hub.url
        progress(f"{module} on {url} (pid {pid})")
    try:
        stat = Path(f"/proc/{pid}/stat") if pid else None
        cpu0 = cpu_seconds(stat) if stat else 0.0
        own0 = time.process_time()
        progress(f"{2 * args.booths:,} requests over {args.duration:g} s")
        results, took = asyncio.run(load(args, url, interval_s(args)))
        hub_cpu = 100 * (cpu_seconds(stat) - cpu0) / took if stat else float("nan")
        own_cpu = 100 * (time.process_time() - own0) / took
        gets = timed_gets(url, args.token or TOKEN) if not args.no_pages else {}
    finally:
        if hub is not None:
            hub.stop()
    return report(args, results, took, hub_cpu, own_cpu, gets)


def report(
    args: argparse.Namespace,
    r: Results,
    took: float,
    hub_cpu: float,
    own_cpu: float,
    gets: dict[str, float],
) -> dict[str, Any]:
    every = r.latency_ms["hb"] + r.latency_ms["ev"]
    if not every:
        raise BenchError(f"no request got an answer: {dict(r.errors)}")
    figures: dict[str, Any] = {
        "booths": args.booths,
        "duration_s": args.duration,
        "load_seconds": round(took, 1),
        "requests": len(every),
        "requests_per_s": round(len(every) / took, 1),
        "events_per_batch": args.events_per_batch,
        "seed_events": args.seed_events,
        "target": "stub" if args.stub else (args.url or "hub"),
        "paths": [args.heartbeat_path, args.events_path],
        "statuses": dict(sorted(r.statuses.items())),
        "errors": dict(r.errors),
    }
    for kind, values in (
        ("heartbeat", r.latency_ms["hb"]),
        ("events", r.latency_ms["ev"]),
        ("all", every),
    ):
        for q in (50, 99):
            figures[f"{kind}_ms_p{q}"] = round(pct(values, q), 2)
        figures[f"{kind}_ms_max"] = round(max(values, default=float("nan")), 2)
        print(
            f"{kind} latency: p50 {figures[f'{kind}_ms_p50']:.1f} ms, "
            f"p99 {figures[f'{kind}_ms_p99']:.1f} ms, max {figures[f'{kind}_ms_max']:.1f} ms "
            f"over {len(values):,} requests"
        )
    figures["scrapes_during_load_ms"] = [round(ms, 1) for ms in r.scrape_ms]
    figures["generator_lag_ms_p99"] = round(pct(r.lag_ms, 99), 2)
    figures["hub_cpu_percent"] = round(hub_cpu, 1)
    figures["generator_cpu_percent"] = round(own_cpu, 1)
    failed = sum(n for k, n in r.statuses.items() if not k.split()[-1].startswith("2"))
    figures["failed_requests"] = failed + sum(r.errors.values())
    figures["meets_goal_p99"] = (
        figures["all_ms_p99"] <= GOAL_P99_MS and not figures["failed_requests"]
    )
    if figures["failed_requests"]:
        print(f"FAILED: {figures['failed_requests']} requests were not answered with 2xx")
    print(f"statuses: {figures['statuses']}; errors: {figures['errors'] or 'none'}")
    if r.scrape_ms:
        print(
            f"GET /metrics every {args.scrape_every:g} s during the load: "
            f"{', '.join(f'{ms:.0f}' for ms in r.scrape_ms)} ms"
        )
    print(
        f"{len(every):,} requests in {took:.1f} s ({figures['requests_per_s']:g}/s): "
        f"p99 {figures['all_ms_p99']:.1f} ms (goal <= {GOAL_P99_MS:g} ms); hub CPU "
        f"{hub_cpu:.1f} % of one core; generator CPU {own_cpu:.1f} %, its lag p99 "
        f"{figures['generator_lag_ms_p99']:.1f} ms"
    )
    if gets:
        figures.update({k: round(v, 1) for k, v in gets.items()})
        print(
            f"afterwards: GET /metrics {gets['metrics_ms']:.0f} ms, /dashboard "
            f"{gets['dashboard_ms']:.0f} ms, /dashboard/clips {gets['dashboard_clips_ms']:.0f} ms "
            f"(median of 3); booths_online {gets['booths_online']:g} of {args.booths:,}"
        )
    return figures


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__.split("\n")[0])
    p.add_argument("--booths", type=int, default=10_000, help="simulated booths (10000)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load (60)")
    p.add_argument("--events-per-batch", type=int, default=8, help="events per batch (8)")
    p.add_argument(
        "--seed-events",
        type=int,
        default=1_000_000,
        help="events in the table before the load (1000000)",
    )
    p.add_argument("--connections", type=int, default=200, help="at most this many at once")
    p.add_argument(
        "--new-connections",
        action="store_true",
        help="a new TCP connection per request, as booths a minute apart would open",
    )
    p.add_argument(
        "--scrape-every",
        type=float,
        default=15.0,
        help="GET /metrics this often during the load, as Prometheus would (15; 0: never)",
    )
    p.add_argument("--heartbeat-path", default="/api/v1/heartbeat")
    p.add_argument("--events-path", default="/api/v1/events")
    p.add_argument(
        "--stub",
        action="store_true",
        help="bench.stubhub and its /stub/v1/ paths (before the fleet API exists)",
    )
    p.add_argument("--url", help="a running hub (booths cred-0.. must be in its database)")
    p.add_argument("--pid", type=int, help="that hub's process id, for its CPU")
    p.add_argument("--token", help="that hub's admin token, for the page figures")
    p.add_argument("--no-pages", action="store_true", help="skip the GET figures")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if args.stub:
        if args.heartbeat_path == "/api/v1/heartbeat":
            args.heartbeat_path = "/stub/v1/heartbeat"
        if args.events_path == "/api/v1/events":
            args.events_path = "/stub/v1/events"
    if args.booths < 1 or args.duration <= 0 or args.events_per_batch < 1:
        p.error("--booths and --events-per-batch must be >= 1, --duration > 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_main("bench.fleet", lambda tmp: run(args, tmp))


if __name__ == "__main__":
    sys.exit(main())
