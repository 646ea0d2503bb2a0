"""The fleet for real: the hub under uvicorn, kiosk-admin, `kiosk enroll`, the fleet thread."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from kiosk.admin.cli import main as admin
from kiosk.cli import main as kiosk
from kiosk.config import FleetConfig
from kiosk.fleet import identity
from kiosk.fleet.client import HubClient
from kiosk.fleet.status import BoothStatus
from kiosk.fleet.worker import FleetWorker
from kiosk.outbox import Outbox
from tests.audio_rig import PulseSink
from tests.booth_runner import HeadlessBooth, write_config
from tests.clipmaker import make_set
from tests.hubproc import HubProcess
from tests.nginx import free_port

TOKEN = "test-admin-token"


@pytest.fixture
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HubProcess]:
    """The hub on SQLite, or on PostgreSQL with `indirect` parameter "postgresql"."""
    data = tmp_path / "hub-data"
    keys = ["--keys", str(tmp_path / "keys"), "--online-keys", str(data / "online-keys")]
    assert admin(["--repo", str(data / "repo"), *keys, "init", "--no-passphrase"]) == 0
    env = {}
    if getattr(request, "param", "sqlite") == "postgresql":
        env["KIOSK_HUB_DATABASE_URL"] = request.getfixturevalue("postgres").new_database()
    with HubProcess(data, TOKEN, env) as server:
        yield server


def booth_admin(hub: HubProcess, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = admin(["--hub", hub.url, "--token", TOKEN, "booth", *args])
    return code, capsys.readouterr().out.strip()


def enroll(
    hub_url: str, token: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "kiosk.yaml"
    config.write_text(f"state_dir: {folder / 'state'}\n")
    capsys.readouterr()
    code = kiosk(["enroll", "--hub", hub_url, "--token", token, "--config", str(config)])
    return code, capsys.readouterr().out.strip()


def test_enroll_permissions_rename_regroup_revoke(
    tmp_path: Path, hub: HubProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    code, token = booth_admin(hub, capsys, "add", "--group", "emea-lobby", "--name", "lobby-1")
    assert code == 0 and len(token) > 20
    code, booth_id = enroll(hub.url, token, tmp_path / "b1", capsys)
    assert code == 0
    fleet_json = tmp_path / "b1" / "state" / "fleet.json"
    assert fleet_json.stat().st_mode & 0o777 == 0o600
    me = identity.load(fleet_json.parent)
    assert me is not None and me.booth_id == booth_id and me.hub == hub.url
    # The installer runs it again: harmless, the token is not even sent.
    code, out = enroll(hub.url + "/", "not-a-token", tmp_path / "b1", capsys)
    assert code == 0 and "already enrolled" in out and identity.load(fleet_json.parent) == me
    # A used, an unknown token: refused (2); no hub there: unreachable (1).
    assert enroll(hub.url, token, tmp_path / "b2", capsys)[0] == 2
    assert enroll(hub.url, "unknown", tmp_path / "b2", capsys)[0] == 2
    assert enroll(f"http://127.0.0.1:{free_port()}", token, tmp_path / "b2", capsys)[0] == 1
    assert not (tmp_path / "b2" / "state" / "fleet.json").exists()
    # A damaged fleet.json is named, then replaced with a fresh token.
    (tmp_path / "b2" / "state").mkdir(parents=True, exist_ok=True)
    (tmp_path / "b2" / "state" / "fleet.json").write_text("{")
    _, fresh = booth_admin(hub, capsys, "add", "--group", "emea-lobby")
    capsys.readouterr()
    code = kiosk(
        [
            "enroll",
            "--hub",
            hub.url,
            "--token",
            fresh,
            "--config",
            str(tmp_path / "b2" / "kiosk.yaml"),
        ]
    )
    assert code == 0 and "fleet.json: unreadable" in capsys.readouterr().err
    assert identity.load(tmp_path / "b2" / "state") is not None

    _, other_token = booth_admin(hub, capsys, "add", "--group", "apac")
    _, other_id = enroll(hub.url, other_token, tmp_path / "b3", capsys)
    as_booth = {"Authorization": f"Bearer {me.credential}"}
    forbidden = [
        ("post", "/api/v1/publish"),
        ("put", "/api/v1/targets/assignments.json?sha256=" + "0" * 64),
        ("post", "/api/v1/refresh"),
        ("get", "/api/v1/publishes"),
        ("get", "/api/v1/booths"),
        ("get", f"/api/v1/booths/{other_id}"),
        ("get", f"/api/v1/booths/{booth_id}"),
        ("patch", f"/api/v1/booths/{other_id}"),
        ("post", f"/api/v1/booths/{other_id}/revoke"),
        ("post", "/api/v1/booths"),
        ("get", "/api/v1/enrollments"),
        ("get", "/api/v1/events"),
    ]
    for method, path in forbidden:
        resp = requests.request(method, hub.url + path, headers=as_booth, json={}, timeout=5)
        assert resp.status_code == 403, (method, path, resp.status_code)
    # What a booth may do: read content, post its own heartbeat and events.
    assert requests.get(f"{hub.url}/repo/metadata/timestamp.json", timeout=5).status_code == 200
    beat = requests.post(
        f"{hub.url}/api/v1/heartbeat", headers=as_booth, json={"sent_at": time.time()}, timeout=5
    )
    assert beat.status_code == 200
    event = {"id": "ab" * 16, "record": {"event": "lift", "at": time.time(), "t": 1.0}}
    resp = requests.post(
        f"{hub.url}/api/v1/events", headers=as_booth, json={"events": [event]}, timeout=5
    )
    assert resp.json() == {"acked": ["ab" * 16], "new": 1, "rejected": {}}

    code, out = booth_admin(hub, capsys, "rename", booth_id, "lobby-north")
    assert code == 0 and "lobby-north" in out
    assert booth_admin(hub, capsys, "regroup", booth_id, "emea-north")[0] == 0
    code, listing = booth_admin(hub, capsys, "list")
    assert f"{booth_id}\tlobby-north\temea-north\tonline" in listing
    assert f"{other_id}\t{other_id}\tapac\toffline\tnever" in listing  # no heartbeat yet
    assert booth_admin(hub, capsys, "revoke", booth_id)[0] == 0
    again = requests.post(f"{hub.url}/api/v1/heartbeat", headers=as_booth, json={}, timeout=5)
    assert again.status_code == 401
    hub.stop()
    log = hub.log.read_text()
    assert "POST /api/v1/heartbeat" in log  # the access log is there, and no secret in it
    for secret in (token, other_token, me.credential, TOKEN):
        assert secret not in log


@pytest.mark.parametrize("hub", ["sqlite", "postgresql"], indirect=True)
def test_fleet_thread_uploads_events_and_heartbeats(
    tmp_path: Path, hub: HubProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    _, token = booth_admin(hub, capsys, "add", "--group", "emea-lobby")
    state = tmp_path / "b" / "state"
    assert enroll(hub.url, token, tmp_path / "b", capsys)[0] == 0
    me = identity.load(state)
    assert me is not None
    box = Outbox(state / "outbox.sqlite3")
    for i in range(12):
        box.publish({"event": "clip_end", "t": i, "clip": "a.opus", "set": "s", "listened_ms": i})
    box.flush()
    status = BoothStatus("lobby", 3, "stale", "offline", 1.7e9, True, True)
    config = FleetConfig(upload_interval=0.05, batch_size=5)
    worker = FleetWorker(HubClient(me), box.path, config, lambda: status, state)
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            (booth,) = admin_get(hub, "/api/v1/booths")
            if worker.uploaded == 12 and booth["heartbeat"]:
                break
            time.sleep(0.1)
    finally:
        worker.stop()
    assert len(box) == 0
    box.close()
    beat = booth["heartbeat"]
    assert booth["offline"] is False and booth["heartbeat_interval"] == 60
    assert beat["set"] == "lobby" and beat["set_version"] == 3 and beat["sync_state"] == "stale"
    assert beat["audio_ok"] is True and beat["hook_ok"] is True and beat["last_lift"] == 1.7e9
    assert abs(beat["clock_offset_s"]) < 60 and beat["disk_free_bytes"] > 0
    assert {"version", "uptime_s", "sent_at", "events_dropped", "queue_len"} <= set(beat)
    rows = hub_events(hub)
    assert sorted(r[3] for r in rows) == list(range(12))  # listened_ms
    assert all(r[0] == "clip_end" and r[1] == "s" and r[2] == "a.opus" for r in rows)


def admin_get(hub: HubProcess, path: str) -> Any:
    resp = requests.get(hub.url + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert resp.status_code == 200
    return resp.json()


def hub_events(hub: HubProcess) -> list[tuple[str, str, str, int, str]]:
    sql = "SELECT event, set_name, clip, listened_ms, body FROM events"
    url = hub.env.get("KIOSK_HUB_DATABASE_URL")
    if url:
        with psycopg.connect(url) as conn:
            return conn.execute(sql.encode()).fetchall()
    with sqlite3.connect(hub.data / "hub.sqlite3") as db:
        return db.execute(sql).fetchall()


def numbers(path: Path) -> list[int]:
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return [json.loads(b)["n"] for (b,) in db.execute("SELECT body FROM events")]


def test_exactly_once_through_kill_9_and_hub_outages(
    tmp_path: Path, hub: HubProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    """N events, the booth killed with SIGKILL at random points, the hub down for the first
    half and up (mid-upload kills) for the second: the hub ends up with exactly N."""
    total, rounds = 600, 12
    _, token = booth_admin(hub, capsys, "add", "--group", "g")
    state = tmp_path / "b" / "state"
    assert enroll(hub.url, token, tmp_path / "b", capsys)[0] == 0
    rng = random.Random(5)
    hub.stop()
    next_n, kills = 0, 0
    for round_ in range(rounds + 1):
        if round_ == rounds // 2:
            hub.start()
        last = round_ == rounds
        end = total if last else min(total, next_n + total // rounds)
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.fleet_child", str(state), str(next_n), str(end)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        try:
            assert child.stdout.readline().strip() == "ready"
            if last:  # let it finish and drain the queue
                deadline = time.monotonic() + 60
                while len(hub_events(hub)) < total and time.monotonic() < deadline:
                    time.sleep(0.1)
            else:
                time.sleep(rng.uniform(0.0, 0.3))
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            child.stdout.close()
        kills += 1
        held = numbers(state / "outbox.sqlite3") + [json.loads(r[4])["n"] for r in hub_events(hub)]
        next_n = max(held, default=-1) + 1
    on_hub = sorted(json.loads(r[4])["n"] for r in hub_events(hub))
    assert kills > 10 and on_hub == list(range(total))


def test_kiosk_run_when_enrolled_uploads_and_beats(
    tmp_path: Path, hub: HubProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    """The daemon itself (no audio device: it retries, reporting `error` events)."""
    _, token = booth_admin(hub, capsys, "add", "--group", "g", "--name", "daemon")
    assert enroll(hub.url, token, tmp_path / "b", capsys)[0] == 0
    make_set(tmp_path / "set")
    config = write_config(
        tmp_path / "b",
        tmp_path / "set",
        audio__device="NoSuchCard",
        fleet__upload_interval=0.2,
        fleet__heartbeat_interval=5,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "run", "--config", str(config)],
        env={**os.environ, "GPIOZERO_PIN_FACTORY": "mock"},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            (booth,) = admin_get(hub, "/api/v1/booths")
            if booth["heartbeat"] and booth["heartbeat"]["hook_ok"] and hub_events(hub):
                break
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    beat = booth["heartbeat"]
    assert beat["audio_ok"] is False and beat["hook_ok"] is True and beat["heartbeat_interval"] == 5
    assert booth["heartbeat_interval"] == 5 and booth["name"] == "daemon"
    assert any(r[0] == "error" for r in hub_events(hub))
    me = identity.load(tmp_path / "b" / "state")
    assert me is not None and token not in err and me.credential not in err


@pytest.mark.pulse
def test_the_simulator_when_enrolled_feeds_the_hub(
    tmp_path: Path, hub: HubProcess, pulse: PulseSink, capsys: pytest.CaptureFixture[str]
) -> None:
    """`scripts/dev.sh simulate`'s path: a lift in the simulator reaches the hub's events."""
    _, token = booth_admin(hub, capsys, "add", "--group", "g", "--name", "sim")
    assert enroll(hub.url, token, tmp_path / "b", capsys)[0] == 0
    make_set(tmp_path / "set")
    config = write_config(tmp_path / "b", tmp_path / "set", fleet__upload_interval=0.2)
    booth = HeadlessBooth(config, pulse.env)
    try:
        booth.send("lift", "sleep 0.5", "hangup")
        booth.wait_for("hangup")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "hangup" not in [r[0] for r in hub_events(hub)]:
            time.sleep(0.2)
    finally:
        booth.close()
    stored = [r[0] for r in hub_events(hub)]
    assert stored.count("lift") == 1 and stored.count("hangup") == 1, (stored, booth.stderr)
    assert "clip_start" in stored and "clip_end" in stored
