"""What the booth's event queue writes: `python -m bench.fleet_booth` (about 3 s).

100 lifts go through the real Outbox as the main loop reports them (one commit per loop turn:
lift, clip_start, clip_end, clip_start, clip_end, hangup = 6 commits per lift), while a second
connection acts as the fleet thread every 10 lifts: batch and ack by id (hub up; hub down, the
queue only grows), then a WAL checkpoint (the fsync that bounds what a power cut can lose).
For `synchronous` NORMAL (the default) and FULL:

- bytes written per 100 lifts: `write(2)` bytes (/proc/self/io wchar) and bytes sent to the
  block layer (write_bytes: whole pages, what the SD card sees before its own FTL);
- the main loop's commit time: p50 / p95 / max of one flush;
- the same with the queue full (50,000 events: each commit also drops the oldest).

One human line per figure, then a JSON object with every figure as the last line.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import run_main
from kiosk.outbox import Outbox

LIFTS = 100
UPLOAD_EVERY = 10  # lifts between two passes of the fleet thread (upload_interval ≈ one lift)


def _io() -> dict[str, int]:
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return {k: int(v) for k, v in fields.items()}


def _lift(n: int) -> list[list[dict[str, Any]]]:
    """One lift's events, grouped by main-loop turn (each group is one commit)."""
    clip = {"clip": f"clip-{n % 7}.opus", "title": "I almost cancelled", "set": "lobby-emea"}
    return [
        [{"event": "lift", "t": n + 0.0}],
        [{"event": "clip_start", "t": n + 0.01, **clip, "speaker": "Maria, customer since 2019"}],
        [{"event": "clip_end", "t": n + 40.0, **clip, "listened_ms": 40000, "finished": True}],
        [{"event": "clip_start", "t": n + 41.5, **clip, "speaker": "Maria, customer since 2019"}],
        [{"event": "clip_end", "t": n + 50.0, **clip, "listened_ms": 8500, "finished": False}],
        [{"event": "hangup", "t": n + 50.0, "held_ms": 50000}],
    ]


def measure(folder: Path, synchronous: str, hub_up: bool) -> dict[str, Any]:
    folder.mkdir(parents=True)
    path = folder / "outbox.sqlite3"
    box = Outbox(path, synchronous=synchronous)
    fleet = Outbox(path)  # the fleet thread's own connection
    box.publish({"event": "warm-up"})
    box.flush()
    flush_ms: list[float] = []
    before = _io()
    for n in range(LIFTS):
        for turn in _lift(n):
            for record in turn:
                box.publish(record)
            t0 = time.perf_counter()
            box.flush()
            flush_ms.append((time.perf_counter() - t0) * 1000)
        if (n + 1) % UPLOAD_EVERY == 0:
            if hub_up:
                fleet.ack_ids([q.id for q in fleet.batch(500)])
            fleet.checkpoint()  # the fleet thread fsyncs the WAL, hub up or down
    after = _io()
    queued = len(box)
    box.close()
    fleet.close()
    flush_ms.sort()
    return {
        "wchar_bytes": after["wchar"] - before["wchar"],
        "block_write_bytes": after["write_bytes"] - before["write_bytes"],
        "flush_ms_p50": round(statistics.median(flush_ms), 3),
        "flush_ms_p95": round(flush_ms[int(len(flush_ms) * 0.95)], 3),
        "flush_ms_max": round(flush_ms[-1], 3),
        "queued_after": queued,
        "file_bytes": sum(p.stat().st_size for p in folder.iterdir()),
    }


def full_queue(folder: Path, max_events: int = 50_000) -> dict[str, Any]:
    """Commit time once the hub has been away long enough to fill the queue."""
    folder.mkdir(parents=True)
    box = Outbox(folder / "outbox.sqlite3", max_events)
    record = _lift(3)[2][0]
    for i in range(max_events):
        box.publish(record)
        if i % 1000 == 999:
            box.flush()
    flush_ms = []
    for _ in range(300):
        box.publish(record)
        t0 = time.perf_counter()
        box.flush()
        flush_ms.append((time.perf_counter() - t0) * 1000)
    dropped = box.dropped()
    box.close()
    flush_ms.sort()
    return {
        "flush_ms_p50": round(statistics.median(flush_ms), 3),
        "flush_ms_p95": round(flush_ms[int(len(flush_ms) * 0.95)], 3),
        "dropped": dropped,
        "file_bytes": sum(p.stat().st_size for p in folder.iterdir()),
    }


def run(tmp: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {"lifts": LIFTS, "events": LIFTS * 6}
    for synchronous in ("NORMAL", "FULL"):
        for hub_up in (True, False):
            name = f"{synchronous.lower()}_{'hub_up' if hub_up else 'hub_down'}"
            got = measure(tmp / name, synchronous, hub_up)
            print(
                f"{name}: per {LIFTS} lifts {got['wchar_bytes'] / 1024:.0f} KiB written "
                f"({got['block_write_bytes'] / 1024:.0f} KiB to the block layer); one commit "
                f"p50 {got['flush_ms_p50']} ms, p95 {got['flush_ms_p95']} ms, "
                f"max {got['flush_ms_max']} ms; {got['queued_after']} events left queued",
                flush=True,
            )
            figures[name] = got
    full = figures["full_queue"] = full_queue(tmp / "full")
    print(
        f"queue full (50,000): one commit p50 {full['flush_ms_p50']} ms, "
        f"p95 {full['flush_ms_p95']} ms; {full['dropped']} dropped and counted; "
        f"{full['file_bytes'] / 2**20:.1f} MiB on disk",
        flush=True,
    )
    return figures


def main() -> int:
    return run_main("bench.fleet_booth", run)


if __name__ == "__main__":
    sys.exit(main())
