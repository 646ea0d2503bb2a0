"""The fleet thread's decisions, one pass at a time, with a fake hub client.

The real client against the real hub: tests/integration/test_fleet.py.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from kiosk.config import FleetConfig
from kiosk.fleet.client import FleetError, HubClient, Upload
from kiosk.fleet.status import BoothStatus
from kiosk.fleet.worker import FleetWorker
from kiosk.outbox import Outbox


class FakeHub:
    def __init__(self) -> None:
        self.down = False
        self.refuse: set[int] = set()  # `n` of records the hub rejects
        self.forget: set[int] = set()  # `n` of records the hub leaves out of its answer
        self.beats: list[dict[str, Any]] = []

    def upload(self, events: list[tuple[str, dict[str, Any]]]) -> Upload:
        if self.down:
            raise FleetError("cannot reach hub")
        acked = [i for i, r in events if r["n"] not in self.refuse | self.forget]
        rejected = {i: "bad" for i, r in events if r["n"] in self.refuse}
        return Upload(acked, len(acked), rejected)

    def heartbeat(self, body: dict[str, Any]) -> dict[str, Any]:
        self.beats.append(body)
        return {"server_time": body["sent_at"] - 2.0}

    def close(self) -> None:
        pass


def worker(tmp_path: Path, hub: FakeHub, **config: Any) -> tuple[FleetWorker, Outbox]:
    box = Outbox(tmp_path / "o.sqlite3", max_events=100)
    fake: Any = hub  # stands in for HubClient
    client: HubClient = fake
    cfg = FleetConfig(batch_size=4, upload_interval=1, retry_max_s=60, **config)
    status = BoothStatus("lobby", 2, "ok", "", None, True, True)
    return FleetWorker(client, box.path, cfg, lambda: status, tmp_path), box


def queue(box: Outbox, numbers: range) -> None:
    for n in numbers:
        box.publish({"event": "lift", "n": n})
    box.flush()


def test_uploads_all_batches_drops_refused_and_backs_off_while_down(tmp_path: Path) -> None:
    hub = FakeHub()
    fleet, box = worker(tmp_path, hub)
    reader = Outbox(box.path)
    queue(box, range(10))
    hub.refuse = {3}
    assert fleet._upload_pass(reader) == 1  # all three batches in one pass
    assert len(box) == 0 and fleet.uploaded == 9
    hub.down = True
    queue(box, range(10, 12))
    delays = [fleet._upload_pass(reader) for _ in range(8)]
    assert delays[:6] == sorted(delays[:6]) and 1 < delays[0] <= 2  # doubling (with jitter)
    assert min(delays[5:]) >= 48 and max(delays) <= 60  # up to retry_max_s
    assert len(box) == 2  # nothing lost while down
    hub.down = False
    hub.forget = {11}  # an incomplete answer: keep the rest, try again later
    assert fleet._upload_pass(reader) > 1
    assert [q.record["n"] for q in box.batch()] == [11]
    reader.close()
    box.close()


def test_heartbeat_counts_drops_and_the_queue_and_learns_the_offset(tmp_path: Path) -> None:
    hub = FakeHub()
    fleet, box = worker(tmp_path, hub, heartbeat_interval=30)
    queue(box, range(130))  # 30 past the bound of 100
    reader = Outbox(box.path)
    fleet._beat(reader)
    fleet._beat(reader)
    first, second = hub.beats
    assert first["events_dropped"] == 30 and first["queue_len"] == 100
    assert first["clock_offset_s"] is None and 1.9 < second["clock_offset_s"] < 2.1
    assert (
        first["set"] == "lobby" and first["set_version"] == 2 and first["heartbeat_interval"] == 30
    )
    reader.close()
    box.close()


class CountingWorker(FleetWorker):
    """Counts upload passes (each one reads the outbox)."""

    passes = 0

    def _upload_pass(self, box: Outbox) -> float:
        self.passes += 1
        return super()._upload_pass(box)


def test_an_empty_queue_sleeps_until_events_are_committed(tmp_path: Path) -> None:
    hub = FakeHub()
    box = Outbox(tmp_path / "o.sqlite3", max_events=100)
    fake: Any = hub
    cfg = FleetConfig(batch_size=4, upload_interval=0.02, heartbeat_interval=3600)
    status = BoothStatus("lobby", 2, "ok", "", None, True, True)
    fleet = CountingWorker(fake, box.path, cfg, lambda: status, tmp_path)
    box.on_commit = fleet.wake
    fleet.start()
    try:
        time.sleep(0.3)  # 15 upload intervals with nothing queued
        idle_passes = fleet.passes
        queue(box, range(6))
        deadline = time.monotonic() + 10
        while fleet.uploaded < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        fleet.stop()
        box.close()
    assert idle_passes == 1  # the one at start; then it slept on the event
    assert fleet.uploaded == 6 and fleet.passes == 2  # woken by the commit: one pass


def test_heartbeat_carries_the_update_state_and_the_helpers_once_newer(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", max_events=100)
    hub = FakeHub()
    fake: Any = hub
    status = BoothStatus("lobby", 2, "ok", "", None, True, True, "staged", "2.1.0", "", 100.0)
    helper = tmp_path / "status.json"
    fleet = FleetWorker(
        fake, box.path, FleetConfig(), lambda: status, tmp_path, update_status_file=helper
    )
    fleet._beat(box)
    helper.write_text(
        '{"state": "rolled_back", "version": "2.1.0", "reason": "no ready", "at": 200}'
    )
    fleet._beat(box)
    first, second = hub.beats
    assert (first["update_state"], first["update_version"]) == ("staged", "2.1.0")
    assert "update_reason" not in first
    assert (second["update_state"], second["update_reason"]) == ("rolled_back", "no ready")
    box.close()
