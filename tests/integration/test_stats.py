"""The dashboard's and /metrics' figures from rows in the hub's database, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub import metrics, stats
from hub.charts import bar_chart
from hub.db import Database, open_database
from hub.readdb import ReadOnlyDatabase
from hub.stats import Reader
from hub.webauth import AdminSessions
from tests.fleetrows import FleetRows

NOW = 1_800_000_000.0  # a Unix time; every figure here is relative to it


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Database, Reader]]:
    """The hub's database and what the dashboard reads it through, on SQLite or PostgreSQL
    (Debian's, started by tests/postgres.py)."""
    if request.param == "sqlite":
        db = open_database(tmp_path / "hub.sqlite3")
        reader: Reader = ReadOnlyDatabase(tmp_path / "hub.sqlite3")
    else:
        db = open_database(tmp_path, request.getfixturevalue("postgres").new_database())
        reader = db
    yield db, reader
    if reader is not db:
        reader.close()  # type: ignore[attr-defined]
    db.close()


@pytest.fixture
def rows(backend: tuple[Database, Reader]) -> FleetRows:
    return FleetRows(backend[0])


@pytest.fixture
def db(backend: tuple[Database, Reader]) -> Reader:
    return backend[1]


def test_a_booth_goes_offline_after_one_and_a_half_intervals(rows: FleetRows, db: Reader) -> None:
    rows.booth("b1", heartbeat_interval_s=60)
    rows.heartbeat("b1", NOW, sync_state="ok", set="lobby", set_version=3)
    [b] = stats.booth_statuses(db, NOW + 90)
    assert (b.state, b.problems, b.set_version) == (stats.BoothState.ONLINE, (), "3")
    assert stats.booth_counts(db, NOW + 90)[stats.BoothState.ONLINE] == 1
    [b] = stats.booth_statuses(db, NOW + 90.5)
    assert (b.state, b.problems) == (stats.BoothState.OFFLINE, ("offline",))
    assert stats.booth_counts(db, NOW + 90.5)[stats.BoothState.OFFLINE] == 1


def test_problems_first_then_fine_then_revoked(rows: FleetRows, db: Reader) -> None:
    for name in ("a-fine", "b-revoked", "c-stale", "d-never", "e-audio"):
        rows.booth(name, revoked_at=NOW - 5 if name == "b-revoked" else None)
    rows.heartbeat("a-fine", NOW, sync_state="ok")
    rows.heartbeat("b-revoked", NOW, sync_state="stale")
    rows.heartbeat("c-stale", NOW, sync_state="stale", sync_reason="metadata expired")
    rows.heartbeat("e-audio", NOW, sync_state="ok", audio_ok=False, events_dropped=4)
    got = [(b.id, b.state.value, b.problems) for b in stats.booth_statuses(db, NOW)]
    assert got == [
        ("c-stale", "online", ("sync stale: metadata expired",)),
        ("d-never", "offline", ("never seen",)),
        ("e-audio", "online", ("audio not working", "4 events dropped")),
        ("a-fine", "online", ()),
        ("b-revoked", "revoked", ()),
    ]


def test_clips_lifts_and_live_share(rows: FleetRows, db: Reader) -> None:
    rows.booth("b1")
    rows.booth("b2")
    day = 86400
    for i in range(4):  # "a": 1 of 4 heard to the end; hang-ups at 2, 7, 7 s
        finished = i == 3
        rows.play("b1", NOW - i * day, "lobby", "a.opus", [2000, 7000, 7500, 30000][i], finished)
    for _ in range(2):
        rows.play("b2", NOW, "lobby", "b.opus", 20000, True, title="<b>Maria</b>")
    rows.play("b2", NOW - 30 * day, "lobby", "old.opus", 1000, False)  # outside the window
    rows.event("b2", "live_end", NOW, listened_ms=60000, reason="hangup")
    first_day, since = stats.day_window(NOW, 7)
    clips = stats.with_titles(db, stats.clip_stats(db, since, bucket_s=5, buckets=4))
    assert [(c.clip, c.plays, c.finished, c.title) for c in clips] == [
        ("a.opus", 4, 1, None),
        ("b.opus", 2, 2, "<b>Maria</b>"),
    ]
    assert clips[0].hangups == (1, 2, 0, 0)
    assert clips[0].listen_through == 0.25
    lifts = stats.lifts_per_day(db, since)
    today = int(NOW) // day
    assert lifts == {"b1": {today - i: 1 for i in range(4)}, "b2": {today: 2}}
    assert first_day == today - 6
    assert stats.booth_names(db, ["b2", "nobody"]) == {"b2": "b2"}
    share = stats.listen_share(db, since)
    assert (share.clips, share.lives, share.live_s) == (6, 1, 60.0)
    assert share.live_share == pytest.approx(60 / (2 + 7 + 7.5 + 30 + 40 + 60))


def test_metrics_text(rows: FleetRows, db: Reader) -> None:
    rows.booth("b1")
    rows.booth("b2")
    rows.booth("b3", revoked_at=NOW)
    rows.heartbeat("b1", NOW, sync_state="stale")
    rows.play("b1", NOW, 'we"ird\\set\n', "a.opus", 1500, False)
    rows.event("b1", "live_end", NOW, listened_ms=2000, set="lobby")
    totals = stats.EventTotals(incremental=isinstance(db, ReadOnlyDatabase))
    text = metrics.render(db, NOW, totals)
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples == [
        "booths_online 1",
        "booths_offline 1",
        "booths_revoked 1",
        "sync_stale_booths 1",
        "lifts_total 1",
        'listen_seconds_total{set="lobby",kind="live"} 2',
        'listen_seconds_total{set="we\\"ird\\\\set\\n",kind="clip"} 1.5',
        'clip_plays_total{set="we\\"ird\\\\set\\n",clip="a.opus"} 1',
        'clip_finished_total{set="we\\"ird\\\\set\\n",clip="a.opus"} 0',
        'kiosk_booths_by_version{version="unknown"} 2',  # the booths' software (test_rollout.py)
        'kiosk_booths_by_update_state{state="unknown"} 2',
    ]
    assert "# TYPE lifts_total counter" in text and "# TYPE booths_online gauge" in text
    rows.play("b2", NOW, "lobby", "a.opus", 500, True)  # only the new rows are read
    rows.event("b2", "live_end", NOW, listened_ms=1000, set="lobby")
    text = metrics.render(db, NOW, totals)
    assert "lifts_total 2" in text and 'listen_seconds_total{set="lobby",kind="live"} 3' in text
    assert 'listen_seconds_total{set="lobby",kind="clip"} 0.5' in text


def test_files_corrupt_on_a_booths_disk_are_a_problem_for_a_week_and_a_counter(
    rows: FleetRows, db: Reader
) -> None:
    for booth in ("b1", "b2"):
        rows.booth(booth)
        rows.heartbeat(booth, NOW, sync_state="ok")
    day = 86400
    for at, clip in ((NOW - 3600, "a.opus"), (NOW - 2 * day, "b.opus"), (NOW - 8 * day, "c.opus")):
        rows.event("b1", "heal", at, set="lobby", clip=clip)
    rows.play("b2", NOW, "lobby", "a.opus", 1000, False)  # other events are not heals
    problem = "2 files found corrupt on its disk in 7 days (healed; check the SD card)"
    assert {b.id: b.problems for b in stats.booth_statuses(db, NOW)} == {"b1": (problem,), "b2": ()}
    assert stats.heal_counts(db, NOW - 9 * day) == {"b1": 3}
    totals = stats.EventTotals(incremental=isinstance(db, ReadOnlyDatabase))
    text = metrics.render(db, NOW, totals)
    assert "# TYPE healed_files_total counter" in text
    assert [line for line in text.splitlines() if line.startswith("healed_")] == [
        'healed_files_total{booth="b1"} 3'
    ]
    rows.event("b2", "heal", NOW, set="lobby", clip="clipset.yaml")  # only new rows are read
    text = metrics.render(db, NOW, totals)
    assert 'healed_files_total{booth="b1"} 3' in text and 'healed_files_total{booth="b2"} 1' in text


def test_chart_labels_are_escaped() -> None:
    svg = bar_chart([1, 3], ["<script>", "b&c"], title='"x"')
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "b&amp;c" in svg


def test_admin_sessions_expire_and_log_out() -> None:
    now = [NOW]
    sessions = AdminSessions(b"secret", lambda: now[0], lifetime_s=60)
    assert sessions.login("wrong") is None
    sid = sessions.login("secret")
    assert sid and sessions.valid(sid) and not sessions.valid(sid + "x")
    now[0] += 61
    assert not sessions.valid(sid)
    sid2 = sessions.login("secret")
    sessions.logout(sid2)
    assert not sessions.valid(sid2)


def _rate(rows: FleetRows, at: float, changed: bool, **about: object) -> None:
    digit = "1" if changed else None
    rows.event("b1", "rating", at, digit=digit, changed=changed, **about)


def test_changed_my_view_per_clip_and_per_set_beside_listen_through(
    rows: FleetRows, db: Reader
) -> None:
    rows.booth("b1")
    for finished in (True, True, False):
        rows.play("b1", NOW, "lobby", "a.opus", 30000, finished)
    rows.play("b1", NOW, "lobby", "b.opus", 30000, True)
    rows.play("b1", NOW, "hall", "c.opus", 30000, True)
    for changed in (True, False):
        _rate(rows, NOW, changed, set="lobby", clip="a.opus")
    _rate(rows, NOW, True, set="lobby", clip="b.opus")
    _rate(rows, NOW - 40 * 86400, True, set="hall", clip="c.opus")  # outside the window
    _rate(rows, NOW, True, source="hub", call_id="c-1")  # a live call
    _rate(rows, NOW, False, source="hub", call_id="c-2")
    since = stats.day_window(NOW, 7)[1]
    by_clip = {c.clip: c for c in stats.clip_stats(db, since)}
    a = by_clip["a.opus"]
    assert (a.plays, a.finished, a.asked, a.changed, a.changed_view) == (3, 2, 2, 1, 0.5)
    assert (by_clip["b.opus"].asked, by_clip["c.opus"].asked) == (1, 0)
    sets = [
        (s.set_name, s.live, s.plays, s.finished, s.asked, s.changed)
        for s in stats.set_stats(db, since)
    ]
    assert sets == [
        ("hall", False, 1, 1, 0, 0),
        ("lobby", False, 4, 3, 3, 2),
        ("", True, 0, 0, 2, 1),
    ]
    totals = stats.EventTotals(incremental=isinstance(db, ReadOnlyDatabase))
    text = metrics.render(db, NOW, totals)
    assert 'ratings_total{set="lobby",clip="a.opus"} 2' in text
    assert 'ratings_changed_total{set="lobby",clip="a.opus"} 1' in text
    assert 'ratings_changed_total{set="",clip=""} 1' in text
    assert 'clip_finished_total{set="lobby",clip="a.opus"} 2' in text
    assert "# TYPE ratings_total counter" in text
