"""Schema versions of the booth's state files: stamps, forward reads, refusals that keep it."""

import json
import random
import sqlite3
from pathlib import Path

import pytest

from kiosk import outbox, stateprobe, stateschema
from kiosk.clips.rotation import Rotation, RotationStore
from kiosk.fleet import identity
from kiosk.fleet.identity import Identity
from kiosk.outbox import SIDE_FILE, Outbox, open_outbox
from kiosk.stateschema import SCHEMAS, Stamp, StateTooNew, StateTooOld
from kiosk.sync.store import SetStore

# The outbox's tables as the code before schema versions made them (kiosk/outbox.py at 8f69233).
OUTBOX_V1_DDL = """
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters (name, value) VALUES ('dropped', 0);
"""


def newer(state: str, readable: bool) -> Stamp:
    """A stamp from a version one schema ahead: readable by this code, or not."""
    newest = SCHEMAS[state].newest
    return Stamp(newest + 1, newest if readable else newest + 1)


def test_shipped_json_matches_the_code() -> None:
    assert stateschema.shipped() == stateschema.as_shipped()
    assert set(stateschema.shipped()) == {"outbox", "rotation", "fleet", "sets"}
    for oldest, newest in stateschema.shipped().values():
        assert 1 <= oldest <= newest


def test_refusal_names_the_file_and_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "fleet.json"
    with pytest.raises(StateTooNew) as e:
        stateschema.check("fleet", path, Stamp(7, 5))
    assert str(path) in str(e.value) and "schema 7" in str(e.value)
    assert "readable by schema 5" in str(e.value) and "schemas 1 to 1" in str(e.value)
    assert isinstance(e.value, ValueError)
    stateschema.check("fleet", path, newer("fleet", readable=True))  # additive: reads it
    with pytest.raises(StateTooOld):
        stateschema.check("fleet", path, Stamp(0, 0))


@pytest.mark.parametrize(
    ("data", "stamp"),
    [
        ({}, Stamp(1, 1)),
        ({"schema": 3}, Stamp(3, 3)),
        ({"schema": 3, "readable_by": 2}, Stamp(3, 2)),
        ({"schema": "3", "readable_by": True}, Stamp(1, 1)),
        ({"schema": 4, "readable_by": -1}, Stamp(4, 4)),
    ],
)
def test_json_stamp(data: dict[str, object], stamp: Stamp) -> None:
    assert stateschema.json_stamp(data) == stamp


# -- the outbox --------------------------------------------------------------------------------
def stamp_outbox(path: Path, stamp: Stamp) -> None:
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={stamp.schema}")
    db.execute("CREATE TABLE IF NOT EXISTS schema_info (readable_by INTEGER NOT NULL)")
    db.execute("DELETE FROM schema_info")
    db.execute("INSERT INTO schema_info VALUES (?)", (stamp.readable_by,))
    db.commit()
    db.close()


def old_outbox(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(OUTBOX_V1_DDL)
    db.execute('INSERT INTO events (id, body) VALUES (\'a1\', \'{"event":"lift","at":1.0}\')')
    db.commit()
    db.close()


def test_outbox_without_a_version_is_read_as_1_and_stamped(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    old_outbox(path)
    box = Outbox(path)
    assert [q.id for q in box.batch()] == ["a1"]
    box.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (1,)
    assert db.execute("SELECT readable_by FROM schema_info").fetchall() == [(1,)]
    db.close()
    # The code before schema versions still reads it: its CREATE ... IF NOT EXISTS and queries.
    db = sqlite3.connect(path)
    db.executescript(OUTBOX_V1_DDL)
    assert db.execute("SELECT id FROM events").fetchall() == [("a1",)]
    db.close()


def test_outbox_too_new_is_left_and_events_go_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    old_outbox(path)
    stamp_outbox(path, newer("outbox", readable=False))
    before = path.read_bytes()
    with pytest.raises(StateTooNew, match=r"outbox\.sqlite3"):
        Outbox(path)
    box = open_outbox(path)
    assert box.path.name == SIDE_FILE.format(schema=SCHEMAS["outbox"].newest)
    box.publish({"event": "lift"})
    box.flush()
    assert len(box) == 1
    box.close()
    assert path.read_bytes() == before


def test_outbox_newer_but_readable_keeps_its_stamp(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    old_outbox(path)
    stamp = newer("outbox", readable=True)
    stamp_outbox(path, stamp)
    box = Outbox(path)
    assert [q.id for q in box.batch()] == ["a1"]
    box.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (stamp.schema,)
    db.close()


# -- the rotation ------------------------------------------------------------------------------
def test_rotation_unversioned_reads_and_saves_for_old_readers(tmp_path: Path) -> None:
    path = tmp_path / "lobby.json"
    path.write_text(json.dumps({"version": 1, "queue": ["b.ogg", "c.ogg"], "last": "a.ogg"}))
    store = RotationStore(path)
    rot = store.load(random.Random(1))
    assert rot.queue == ["b.ogg", "c.ogg"] and rot.last == "a.ogg"
    store.save(rot)
    saved = json.loads(path.read_text())
    assert saved["version"] == 1  # what the code before schema stamps requires
    assert (saved["schema"], saved["readable_by"]) == (1, 1)
    assert Rotation.from_json(saved).queue == ["b.ogg", "c.ogg"]


def test_rotation_too_new_plays_a_fresh_cycle_and_keeps_the_file(tmp_path: Path) -> None:
    path = tmp_path / "lobby.json"
    stamp = newer("rotation", readable=False)
    body = {"schema": stamp.schema, "readable_by": stamp.readable_by, "queue": ["b.ogg"]}
    path.write_text(json.dumps(body))
    store = RotationStore(path)
    rot = store.load(random.Random(1))
    assert rot.queue == [] and store.read_only
    assert rot.next(["a.ogg", "b.ogg"], lambda f: 1.0, lambda f: True) is not None
    store.save(rot)
    assert json.loads(path.read_text()) == body


# -- fleet.json --------------------------------------------------------------------------------
def test_fleet_json_unversioned_loads_and_save_stamps(tmp_path: Path) -> None:
    body = {"hub": "https://hub.example/", "booth_id": "b1", "credential": "secret"}
    identity.path_in(tmp_path).write_text(json.dumps(body))
    me = identity.load(tmp_path)
    assert me == Identity("https://hub.example", "b1", "secret")
    identity.save(tmp_path, me)
    data = json.loads(identity.path_in(tmp_path).read_text())
    assert (data["schema"], data["readable_by"]) == (1, 1)
    assert identity.load(tmp_path) == me


def test_fleet_json_too_new_is_refused_and_kept(tmp_path: Path) -> None:
    stamp = newer("fleet", readable=False)
    body = {"schema": stamp.schema, "readable_by": stamp.readable_by, "hub": "https://h"}
    identity.path_in(tmp_path).write_text(json.dumps(body))
    with pytest.raises(StateTooNew, match=r"fleet\.json"):
        identity.load(tmp_path)
    assert json.loads(identity.path_in(tmp_path).read_text()) == body


# -- the set store -----------------------------------------------------------------------------
def test_set_store_is_stamped_once(tmp_path: Path) -> None:
    (tmp_path / "sets").mkdir()  # today's layout, with no stamp
    store = SetStore(tmp_path)
    stamp_file = tmp_path / "sets-schema.json"
    assert json.loads(stamp_file.read_text()) == {"schema": 1, "readable_by": 1}
    mtime = stamp_file.stat().st_mtime_ns
    SetStore(tmp_path)
    assert stamp_file.stat().st_mtime_ns == mtime
    assert store.collect() == []  # the stamp is not a set folder to collect


def test_set_store_too_new_is_refused_untouched(tmp_path: Path) -> None:
    (tmp_path / "sets").mkdir()
    stamp = newer("sets", readable=False)
    (tmp_path / "sets-schema.json").write_text(
        json.dumps({"schema": stamp.schema, "readable_by": stamp.readable_by})
    )
    with pytest.raises(StateTooNew, match=r"sets-schema\.json"):
        SetStore(tmp_path)
    assert not (tmp_path / "cache").exists()


def test_outbox_step_migrates_forward_and_a_rolled_back_version_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A future additive step (a new column), run by "version 2", then read by this code."""
    path = tmp_path / "outbox.sqlite3"
    old_outbox(path)
    with monkeypatch.context() as m:
        m.setitem(SCHEMAS, "outbox", stateschema.Schema(1, 2, 1))
        m.setitem(outbox.MIGRATIONS, 2, ["ALTER TABLE events ADD COLUMN priority INTEGER"])
        box = Outbox(path)
        assert [q.id for q in box.batch()] == ["a1"]
        box.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (2,)
    assert "priority" in [c[1] for c in db.execute("PRAGMA table_info(events)")]
    db.close()
    rolled_back = Outbox(path)  # schema 1 code: the file says readable by 1
    rolled_back.publish({"event": "hangup"})
    rolled_back.flush()
    assert rolled_back.batch()[0].id == "a1" and len(rolled_back) == 2
    rolled_back.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (2,)  # its stamp is kept
    db.close()


def test_probe_reads_every_stamp_and_says_what_a_release_cannot_read(tmp_path: Path) -> None:
    Outbox(tmp_path / "outbox.sqlite3").close()
    identity.save(tmp_path, Identity("https://h", "b1", "c"))
    RotationStore(tmp_path / "rotation" / "lobby.json").save(Rotation())
    SetStore(tmp_path)
    stamps = stateprobe.on_disk(tmp_path)
    assert stamps == {s: Stamp(1, 1) for s in ("outbox", "fleet", "rotation", "sets")}
    assert stateprobe.unreadable_by(stateschema.shipped(), stamps) == []
    (tmp_path / "rotation" / "hall.json").write_text(json.dumps({"schema": 3, "readable_by": 2}))
    stamps = stateprobe.on_disk(tmp_path)
    assert stamps["rotation"] == Stamp(3, 2)
    assert stateprobe.unreadable_by(stateschema.shipped(), stamps) == [
        "rotation: schema 3 needs a reader of schema 2 or later; the release reads 1 to 1"
    ]
    assert stateprobe.unreadable_by({"rotation": [1, 2]}, stamps) == []
    assert stateprobe.unreadable_by({"rotation": [4, 5], "fleet": [2, 2]}, stamps) == [
        "fleet: schema 1 is older than the release reads (2)",
        "rotation: schema 3 is older than the release reads (4)",
    ]
