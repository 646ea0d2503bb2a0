"""A booth whose state a newer version wrote, in a way it cannot read (a rollback past a format
change), keeps playing: the real simulator, every state file stamped too new, left as it was."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from kiosk.stateschema import SCHEMAS
from tests.audio_rig import PulseSink
from tests.booth_runner import HeadlessBooth, write_config
from tests.clipmaker import make_set

pytestmark = pytest.mark.pulse


def too_new(state: str) -> dict[str, int]:
    ahead = SCHEMAS[state].newest + 1
    return {"schema": ahead, "readable_by": ahead}


def test_the_booth_plays_on_newer_state_and_keeps_it(tmp_path: Path, pulse: PulseSink) -> None:
    make_set(tmp_path / "set", {"a.wav": 1.0, "b.wav": 1.0}, name="lobby")
    state = tmp_path / "state"
    (state / "rotation").mkdir(parents=True)
    files = {
        state / "fleet.json": {**too_new("fleet"), "hub": "https://h", "booth_id": "b"},
        state / "rotation" / "lobby.json": {**too_new("rotation"), "queue": ["a.wav"]},
        state / "sets-schema.json": too_new("sets"),
    }
    for path, body in files.items():
        path.write_text(json.dumps(body))
    outbox = sqlite3.connect(state / "outbox.sqlite3")
    outbox.execute(f"PRAGMA user_version={SCHEMAS['outbox'].newest + 1}")
    outbox.execute("CREATE TABLE schema_info (readable_by INTEGER NOT NULL)")
    outbox.execute("INSERT INTO schema_info VALUES (?)", (SCHEMAS["outbox"].newest + 1,))
    outbox.commit()
    outbox.close()
    before = {p: p.read_bytes() for p in [*files, state / "outbox.sqlite3"]}
    cfg = write_config(tmp_path, tmp_path / "set", sync__url="http://127.0.0.1:9/repo")

    booth = HeadlessBooth(cfg, pulse.env)
    try:
        booth.send("lift")
        booth.wait_for("clip_start")
        booth.send("sleep 0.3", "hangup")
        booth.wait_for("hangup")
    finally:
        assert booth.quit() == 0
    for path, data in before.items():
        assert path.read_bytes() == data, f"{path} changed"
    for name in ("fleet.json", "lobby.json", "sets-schema.json", "outbox.sqlite3"):
        assert name in booth.stderr and "left untouched" in booth.stderr, booth.stderr[-3000:]
    side = sqlite3.connect(state / "outbox-schema1.sqlite3")
    events = [json.loads(b)["event"] for (b,) in side.execute("SELECT body FROM events")]
    side.close()
    assert "lift" in events and "hangup" in events  # queued beside the newer file
