"""The hub's fleet data on SQLite and on PostgreSQL (Debian's, started here), hand-turned clock."""

from __future__ import annotations

import pytest

from hub.auth import digest
from hub.db import Database
from hub.fleetstore import EnrollmentRefused, FleetStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(hub_database: Database) -> FleetStore:
    """On SQLite, then on PostgreSQL (tests/conftest.py)."""
    return FleetStore(hub_database, Clock())


def clock(store: FleetStore) -> Clock:
    assert isinstance(store.clock, Clock)
    return store.clock


def test_enrollment_token_is_used_once_and_expires(store: FleetStore) -> None:
    token = store.add_enrollment("emea", "lobby-1", ttl_s=60)
    booth = store.enroll(token)
    assert (booth.name, booth.group) == ("lobby-1", "emea")
    with pytest.raises(EnrollmentRefused) as used:
        store.enroll(token)
    assert used.value.status_code == 410
    with pytest.raises(EnrollmentRefused) as unknown:
        store.enroll("nope")
    assert unknown.value.status_code == 401
    late = store.add_enrollment("emea", "", ttl_s=60)
    clock(store).now += 61
    with pytest.raises(EnrollmentRefused) as expired:
        store.enroll(late)
    assert expired.value.status_code == 410
    # Only digests are stored.
    rows = store.db.query(
        "SELECT token_sha256 FROM enrollments UNION SELECT token_sha256 FROM booths"
    )
    stored = {r[0] for r in rows}
    assert token not in stored and digest(token) in stored and digest(booth.credential) in stored


def test_offline_after_one_and_a_half_intervals(store: FleetStore) -> None:
    booth = store.enroll(store.add_enrollment("g", "b"))
    assert store.booth(booth.booth_id)["offline"] is True  # type: ignore[index]
    answer = store.heartbeat(
        booth.booth_id, {"sent_at": clock(store).now + 2.5, "heartbeat_interval": 10}
    )
    assert answer["clock_offset_s"] == 2.5
    clock(store).now += 15
    found = store.booth(booth.booth_id)
    assert found is not None and found["offline"] is False
    assert found["heartbeat"]["clock_offset_s"] == 2.5 and found["heartbeat_interval"] == 10
    clock(store).now += 0.1
    assert store.booth(booth.booth_id)["offline"] is True  # type: ignore[index]


def test_events_are_stored_once_and_bad_ones_refused(store: FleetStore) -> None:
    booth = store.enroll(store.add_enrollment("g", "b")).booth_id
    end = {
        "event": "clip_end",
        "at": 5.0,
        "clip": "a.opus",
        "set": "s",
        "listened_ms": 900,
        "finished": False,
    }
    first = store.store_events(booth, [("a" * 32, end), ("b" * 32, {"event": "lift"})])
    assert first.acked == ["a" * 32] and first.new == 1 and "b" * 32 in first.rejected
    again = store.store_events(booth, [("a" * 32, end), ("c" * 32, {**end, "at": 6})])
    assert again.acked == ["a" * 32, "c" * 32] and again.new == 1
    rows = store.db.query(
        "SELECT id, set_name, clip, listened_ms, finished, at FROM events ORDER BY id"
    )
    assert rows == [("a" * 32, "s", "a.opus", 900, 0, 5.0), ("c" * 32, "s", "a.opus", 900, 0, 6.0)]


def test_rename_regroup_revoke(store: FleetStore) -> None:
    booth = store.enroll(store.add_enrollment("g", "")).booth_id
    assert store.update(booth, name="north") and store.update(booth, group="h")
    assert not store.update("nope", name="x")
    assert store.revoke(booth)
    found = store.booth(booth)
    assert found is not None and (found["name"], found["group"], found["revoked"]) == (
        "north",
        "h",
        True,
    )


def test_a_rating_stores_changed_in_the_finished_column(store: FleetStore) -> None:
    booth = store.enroll(store.add_enrollment("g", "b")).booth_id
    rating = {"event": "rating", "at": 5.0, "t": 1.0, "clip": "a.opus", "set": "s"}
    yes = {**rating, "digit": "1", "changed": True, "answer_ms": 2300}
    none = {**rating, "digit": None, "changed": False, "answer_ms": None}
    dial = {"event": "dial", "at": 5.0, "digit": "#", "kind": "keypad"}
    stored = store.store_events(booth, [("a" * 32, yes), ("b" * 32, none), ("c" * 32, dial)])
    assert stored.new == 3 and not stored.rejected
    rows = store.db.query("SELECT id, event, clip, finished FROM events ORDER BY id")
    assert rows == [
        ("a" * 32, "rating", "a.opus", 1),
        ("b" * 32, "rating", "a.opus", 0),
        ("c" * 32, "dial", None, None),
    ]
    bad = store.store_events(booth, [("d" * 32, {**dial, "digit": "12"})])
    assert "d" * 32 in bad.rejected
