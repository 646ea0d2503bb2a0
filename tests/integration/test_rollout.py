"""The fleet's software figures (hub.rollout, hub.metrics) on SQLite and PostgreSQL, from
heartbeats stored by the real fleet store, and the channels read from a signed repository."""

from __future__ import annotations

from pathlib import Path

from hub import metrics, rollout, stats
from hub.content import release_channels
from hub.db import Database
from hub.fleetstore import FleetStore
from kiosk.content.repository import Repository
from kiosk.release.manifest import Channels
from tests.fleetrows import FleetRows
from tests.hubproc import init_hub_data
from tests.release_channels import sign_channels

CHANNELS = Channels({"stable": "1.0", "canary": "1.1"}, {"lab": "canary", "museum": "0.9"})


def fleet(db: Database) -> None:
    """Seven booths: emea and apac follow stable (the default), lab canary, museum a pin."""
    rows = FleetRows(db)
    store = FleetStore(db, lambda: 1000.0)
    booths = {
        "e1": ("emea", {"version": "1.0", "update_state": "idle"}),
        "e2": ("emea", {"version": "0.9", "update_state": "downloading", "update_version": "1.0"}),
        "a1": ("apac", {"version": "0.9", "update_state": "staged", "update_version": "1.0"}),
        "l1": ("lab", {"version": "1.1", "update_state": "probation", "update_version": "1.1"}),
        "l2": (
            "lab",
            {
                "version": "1.0",
                "update_state": "rolled_back",
                "update_version": "1.1",
                "update_reason": "no READY=1 within 90 s",
            },
        ),
        "m1": ("museum", {"version": "0.9"}),
        "x1": ("emea", {}),  # an older booth that says nothing of its software
    }
    for booth_id, (grp, hb) in booths.items():
        rows.booth(booth_id, grp=grp)
        store.heartbeat(booth_id, {"sent_at": 1000.0, **hb})
    rows.booth("r1", grp="emea", revoked_at=5.0)
    store.heartbeat("r1", {"version": "0.1", "update_state": "failed"})


def test_versions_and_states_without_channels(hub_database: Database) -> None:
    fleet(hub_database)
    sw = rollout.software(hub_database, None)
    assert sw.by_version == {"1.0": 2, "0.9": 3, "1.1": 1, "unknown": 1}
    assert sw.by_state["downloading"] == 1 and sw.by_state["unknown"] == 2
    assert sw.rollouts == [] and sw.channels == {}
    assert [(f.booth_id, f.state, f.version, f.reason) for f in sw.failures] == [
        ("l2", "rolled_back", "1.1", "no READY=1 within 90 s")
    ]


def test_each_channel_s_rollout(hub_database: Database) -> None:
    fleet(hub_database)
    sw = rollout.software(hub_database, CHANNELS)
    by_name = {r.name: r for r in sw.rollouts}
    stable, canary, pinned = by_name["stable"], by_name["canary"], by_name["pinned 0.9"]
    assert (stable.version, sorted(stable.groups), stable.booths) == ("1.0", ["apac", "emea"], 4)
    assert stable.on_target == 1
    assert stable.in_progress == {"downloading": 1, "staged": 1, "applying": 0, "probation": 0}
    assert (canary.version, canary.booths, canary.on_target, canary.failed) == ("1.1", 2, 1, 1)
    assert canary.in_progress["probation"] == 1
    assert (pinned.version, pinned.groups, pinned.on_target) == ("0.9", ["museum"], 1)


def test_metrics_families(hub_database: Database) -> None:
    fleet(hub_database)
    text = metrics.render(hub_database, 1000.0, stats.EventTotals(False), CHANNELS)
    lines = text.splitlines()
    for sample in (
        'kiosk_booths_by_version{version="0.9"} 3',
        'kiosk_booths_by_version{version="unknown"} 1',
        'kiosk_booths_by_update_state{state="rolled_back"} 1',
        'kiosk_release_channel_info{channel="canary",version="1.1"} 1',
        'kiosk_channel_booths{channel="stable",version="0.9"} 2',
        'kiosk_channel_booths_by_update_state{channel="canary",state="probation"} 1',
    ):
        assert sample in lines, sample
    assert "# TYPE kiosk_booths_by_version gauge" in lines
    bare = metrics.render(hub_database, 1000.0, stats.EventTotals(False))
    assert "kiosk_release_channel_info{" not in bare and "kiosk_booths_by_version{" in bare


def test_a_bad_stored_row_does_not_break_the_figures(hub_database: Database) -> None:
    rows = FleetRows(hub_database)
    rows.booth("b1")
    with hub_database.transaction() as cur:  # what an older hub or a hand edit may have left
        cur.execute(
            "UPDATE booths SET heartbeat = ?, version = ?, update_state = ? WHERE id = 'b1'",
            ('{"update_reason": [1, 2', 'x"\\\n' * 40, "failed"),
        )
    sw = rollout.software(hub_database, CHANNELS)
    assert sw.failures[0].reason == "" and sum(sw.by_version.values()) == 1
    text = metrics.render(hub_database, 1000.0, stats.EventTotals(False), CHANNELS)
    assert all(line.count('"') % 2 == 0 for line in text.splitlines() if "version=" in line)
    status = stats.booth_statuses(hub_database, 1000.0)[0]
    assert "unreadable heartbeat" in status.problems


def test_channels_read_from_the_signed_repository(tmp_path: Path) -> None:
    data = init_hub_data(tmp_path / "hub-data", tmp_path / "keys")
    repo = Repository(data / "repo")
    assert release_channels(repo) is None
    sign_channels(data, tmp_path / "keys", CHANNELS)
    assert release_channels(repo) == CHANNELS
    # Bytes changed behind the signature: not trusted, versions only.
    (path,) = (data / "repo" / "targets" / "releases").rglob("*channels.json")
    path.write_bytes(path.read_bytes().replace(b"1.1", b"9.9"))
    assert release_channels(repo) is None
