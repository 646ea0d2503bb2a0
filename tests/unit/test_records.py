"""The booth-hub records (kiosk.fleet.records): what the booth writes always passes the hub's
check, and what the hub stored long ago always reads back safely."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from kiosk.config import FleetConfig
from kiosk.fleet.client import FleetError
from kiosk.fleet.records import (
    CONSENT_PATHS,
    MAX_BATCH_BYTES,
    MAX_RECORD_BYTES,
    EventRecord,
    Heartbeat,
    fit_event,
    fit_heartbeat,
    readable_heartbeat,
)
from kiosk.fleet.status import BoothStatus
from kiosk.fleet.worker import FleetWorker
from kiosk.outbox import Outbox
from tests.unit.test_fleet_worker import FakeHub


@pytest.mark.parametrize(
    "fields",
    [
        {"event": "clip_end", "set": "\ud800", "listened_ms": 10**31, "finished": True},
        {"event": "error", "message": "m" * 50_000, "title": math.inf},
        {"event": "lift", **{f"f{i}": "z" * 999 for i in range(40)}},
        {"event": "sync", "nested": {"a": [1]}, "Bad-Key": 1, "version": 7},
        {"event": "heal", "t": 12.5, "set": "lobby", "clip": "a.opus"},  # kiosk.app: Healed
    ],
)
def test_what_the_booth_writes_the_hub_takes(fields: dict[str, Any]) -> None:
    record = fit_event(fields, 1.7e9)
    assert record is not None and record["event"] == fields["event"]
    assert EventRecord.model_validate(json.loads(json.dumps(record))).dump() == record
    assert len(json.dumps(record, separators=(",", ":"))) <= MAX_RECORD_BYTES


@pytest.mark.parametrize("fields", [{"event": "Not A Name"}, {"message": "no event"}])
def test_an_event_without_a_usable_name_is_not_queued(
    tmp_path: Path, fields: dict[str, Any]
) -> None:
    assert fit_event(fields, 1.7e9) is None
    box = Outbox(tmp_path / "o.sqlite3", wall=lambda: 1234.5)
    box.publish(fields)
    box.publish({"event": "lift", "t": math.nan})
    box.flush()
    assert [q.record for q in box.batch()] == [{"event": "lift", "at": 1234.5}]
    box.close()


@pytest.mark.parametrize(
    "bad",
    [
        {"at": math.nan},
        {"at": 10**400},
        {"at": "1700000000"},
        {"at": True},
        {"at": 1.0, "listened_ms": 1e30},
        {"at": 1.0, "listened_ms": 3.5},
        {"at": 1.0, "set": "\ud800"},
        {"at": 1.0, "deep": {"a": {"b": 1}}},
        {"at": 1.0, "message": "x" * 1001},
    ],
)
def test_the_hub_refuses_out_of_bounds(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        EventRecord.model_validate({"event": "lift", **bad})


def test_heartbeats_are_fitted_and_old_rows_read_safely() -> None:
    hb = fit_heartbeat({"last_lift": 1e300, "set": "a\ud800", "queue_len": 3, "extra_one": "y"})
    assert hb == {"set": "a\ufffd", "queue_len": 3, "extra_one": "y"}
    Heartbeat.model_validate(hb)
    assert readable_heartbeat('{"last_lift": 1e300, "audio_ok": false}') == {"audio_ok": False}
    assert readable_heartbeat("[" * 100_000) == {"unreadable": True}
    assert readable_heartbeat("[]") == {"unreadable": True}
    assert readable_heartbeat(None) is None


def test_uploads_stay_under_the_batch_byte_cap(tmp_path: Path) -> None:
    hub = FakeHub()
    sizes: list[int] = []
    upload = hub.upload

    def measured(events: list[tuple[str, dict[str, Any]]]) -> Any:
        sizes.append(len(json.dumps({"events": [{"id": i, "record": r} for i, r in events]})))
        return upload(events)

    hub.upload = measured  # type: ignore[method-assign]
    box = Outbox(tmp_path / "o.sqlite3")
    client: Any = hub
    config = FleetConfig(batch_size=1000, upload_interval=1)
    status = BoothStatus("lobby", 2, "ok", "", None, True, True)
    fleet = FleetWorker(client, box.path, config, lambda: status, tmp_path)
    for n in range(600):
        box.publish({"event": "error", "n": n, "message": "m" * 1000, "reason": "r" * 1000})
    box.flush()
    assert fleet._upload_pass(box) == 1
    assert len(box) == 0 and len(sizes) >= 2 and max(sizes) <= MAX_BATCH_BYTES
    box.close()


def test_a_413_halves_the_batch_until_it_passes(tmp_path: Path) -> None:
    """A proxy on the way with a lower body cap than the hub's: batches shrink, none sticks."""
    hub = FakeHub()
    upload = hub.upload

    def capped(events: list[tuple[str, dict[str, Any]]]) -> Any:
        size = len(json.dumps({"events": [{"id": i, "record": r} for i, r in events]}))
        if size > 100_000:
            raise FleetError("HTTP 413", 413)
        return upload(events)

    hub.upload = capped  # type: ignore[method-assign]
    box = Outbox(tmp_path / "o.sqlite3")
    client: Any = hub
    status = BoothStatus("lobby", 2, "ok", "", None, True, True)
    config = FleetConfig(batch_size=1000, upload_interval=1, retry_max_s=60)
    fleet = FleetWorker(client, box.path, config, lambda: status, tmp_path)
    for n in range(400):
        box.publish({"event": "error", "n": n, "message": "m" * 900})
    box.flush()
    passes = 0
    while len(box) and passes < 10:
        fleet._upload_pass(box)
        passes += 1
    assert len(box) == 0 and fleet.batch_bytes <= 100_000
    box.close()


def test_the_booth_side_imports_no_web_framework() -> None:
    """The records are shared with the hub, but a booth must not pay for FastAPI."""
    code = (
        "import sys, kiosk.cli, kiosk.outbox, kiosk.fleet.worker, kiosk.fleet.records\n"
        "web = ('fastapi', 'starlette', 'uvicorn', 'limits')\n"
        "print(sorted(m for m in web if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_consent_event_keeps_its_lists_of_paths() -> None:
    removed = [f"cache/clips/{i:064x}.opus" for i in range(CONSENT_PATHS)]
    fields = {"event": "consent", "t": 1.0, "removed": removed, "files": ["maria.opus"]}
    fitted = fit_event(fields, 1_700_000_000.0)
    assert fitted is not None and fitted["removed"] == removed
    assert EventRecord.model_validate(fitted).files == ["maria.opus"]
    too_many = {**fields, "removed": [*removed, "one more"]}
    with pytest.raises(ValidationError):
        EventRecord.model_validate({**too_many, "at": 1.0})


def test_dial_and_rating_events_fit_as_the_session_writes_them() -> None:
    dial = {"event": "dial", "t": 3.0, "digit": "0", "kind": "rotary"}
    rating = {"event": "rating", "t": 4.0, "digit": None, "changed": False, "answer_ms": None}
    for fields in (dial, {**rating, "clip": "a.ogg", "set": "s", "title": "T"}):
        assert fit_event(fields, 1.7e9) == {**fields, "at": 1.7e9}
    with pytest.raises(ValidationError):
        EventRecord.model_validate({"event": "rating", "at": 1.0, "changed": "yes"})


def test_dial_and_rating_events_travel_the_outbox(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", wall=lambda: 1234.5)
    box.publish({"event": "dial", "t": 3.0, "digit": "1", "kind": "keypad"})
    box.publish({"event": "rating", "t": 5.0, "digit": "1", "changed": True, "answer_ms": 900})
    box.flush()
    records = [q.record for q in box.batch()]
    box.close()
    assert [r["event"] for r in records] == ["dial", "rating"]
    for record in records:
        assert EventRecord.model_validate(record).dump() == record
