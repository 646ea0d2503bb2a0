"""Issue 16's findings, one fixed test each, against the real hub (`kiosk-hub serve`).

Every hostile or broken input is a 4xx or a `rejected` entry, the hub keeps serving, and no
booth can make an admin page fail. Bodies are sent as raw bytes: NaN, 400-digit numbers and
lone surrogates are what a broken booth or a stranger can send, not what `json=` would.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium.webdriver.common.by import By

from hub.db import Database
from kiosk.admin.cli import main as admin
from kiosk.config import FleetConfig
from kiosk.fleet.client import HubClient
from kiosk.fleet.identity import Identity
from kiosk.fleet.status import BoothStatus
from kiosk.fleet.worker import FleetWorker
from kiosk.outbox import Outbox
from tests.browser import chromium, click_through
from tests.fleetrows import FleetRows
from tests.hubproc import HubProcess, init_hub_data

ID = "ab" * 16
GOOD = b'{"event":"lift","at":1700000000.5,"t":1.0}'


def admin_headers(hub: HubProcess) -> dict[str, str]:
    return {"Authorization": f"Bearer {hub.token}"}


def new_booth(hub: HubProcess) -> dict[str, str]:
    """Enroll a booth through the API; its bearer headers."""
    resp = requests.post(
        f"{hub.url}/api/v1/booths", json={"group": "lobby"}, headers=admin_headers(hub), timeout=5
    )
    token = resp.json()["token"]
    enrolled = requests.post(f"{hub.url}/api/v1/enroll", json={"token": token}, timeout=5)
    return {"Authorization": f"Bearer {enrolled.json()['credential']}"}


def post_raw(url: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(
        url, data=body, headers={**headers, "Content-Type": "application/json"}, timeout=10
    )


def post_events(hub: HubProcess, headers: dict[str, str], events: list[Any]) -> requests.Response:
    url = f"{hub.url}/api/v1/events"
    return requests.post(url, json={"events": events}, headers=headers, timeout=30)


@pytest.fixture
def booth(hub: HubProcess) -> dict[str, str]:
    return new_booth(hub)


@pytest.fixture
def rows(hub: HubProcess) -> Iterator[FleetRows]:
    db = Database(hub.data / "hub.sqlite3")
    yield FleetRows(db)
    db.close()


@pytest.mark.parametrize(
    "record",
    [
        b'{"event":"lift","at":NaN}',
        b'{"event":"lift","at":1' + b"0" * 399 + b"}",
        b'{"event":"clip_end","at":1700000000,"listened_ms":1e30}',
        b'{"event":"clip_end","at":1700000000,"listened_ms":1' + b"0" * 30 + b"}",
        b'{"event":"clip_end","at":1700000000,"listened_ms":NaN}',
        b'{"event":"clip_start","at":1700000000,"set":"\\ud800"}',
    ],
    ids=[
        "at-nan",
        "at-400-digits",
        "listened-1e30",
        "listened-31-digits",
        "listened-nan",
        "lone-surrogate",
    ],
)
def test_a_bad_event_record_is_rejected_alone_and_never_a_500(
    hub: HubProcess, booth: dict[str, str], record: bytes
) -> None:
    good_id = "cd" * 16
    body = (
        b'{"events":[{"id":"' + ID.encode() + b'","record":' + record + b"},"
        b'{"id":"' + good_id.encode() + b'","record":' + GOOD + b"}]}"
    )
    resp = post_raw(f"{hub.url}/api/v1/events", body, booth)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["acked"] == [good_id] and answer["new"] == 1
    assert list(answer["rejected"]) == [ID] and answer["rejected"][ID]
    # Sent again (a booth that did not drop it): the same answer, never a stuck queue.
    assert post_raw(f"{hub.url}/api/v1/events", body, booth).json()["rejected"].keys() == {ID}
    assert requests.get(f"{hub.url}/healthz", timeout=5).status_code == 200


def test_a_heartbeat_with_a_400_digit_sent_at_is_refused(
    hub: HubProcess, booth: dict[str, str]
) -> None:
    resp = post_raw(f"{hub.url}/api/v1/heartbeat", b'{"sent_at":1' + b"0" * 399 + b"}", booth)
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"] == ["sent_at"]
    assert post_raw(f"{hub.url}/api/v1/heartbeat", b'{"sent_at":1700000000}', booth).ok


@pytest.mark.parametrize(
    "heartbeat", [b'{"last_lift":1e300}', b'{"set":"\\ud800"}', b'{"set_version":1e999}']
)
def test_no_booth_can_make_an_admin_page_fail(
    hub: HubProcess,
    booth: dict[str, str],
    rows: FleetRows,
    heartbeat: bytes,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    resp = post_raw(f"{hub.url}/api/v1/heartbeat", heartbeat, booth)
    assert resp.status_code == 422
    # What an older hub stored anyway: the pages and the API still render around it.
    rows.booth("old")
    with rows.db.transaction() as cur:
        cur.execute(
            "UPDATE booths SET last_seen = ?, heartbeat = ? WHERE id = 'old'",
            (time.time(), heartbeat.decode()),
        )
    listing = requests.get(f"{hub.url}/api/v1/booths", headers=admin_headers(hub), timeout=5)
    assert listing.status_code == 200
    (old,) = [b for b in listing.json() if b["id"] == "old"]
    assert "last_lift" not in old["heartbeat"]
    one = requests.get(f"{hub.url}/api/v1/booths/old", headers=admin_headers(hub), timeout=5)
    assert one.status_code == 200
    with requests.Session() as browser:
        login = browser.post(f"{hub.url}/login", data={"token": hub.token}, timeout=5)
        assert login.status_code == 200 and login.url.endswith("/dashboard")
        assert 'data-booth="old"' in login.text
        assert browser.get(f"{hub.url}/dashboard/clips", timeout=5).status_code == 200
    capsys.readouterr()
    listed = admin(["--hub", hub.url, "--token", hub.token, "booth", "list"])
    assert listed == 0 and "old" in capsys.readouterr().out


def test_an_old_events_row_with_a_bad_title_renders(hub: HubProcess, rows: FleetRows) -> None:
    rows.booth("b1")
    now = time.time()
    clip = {"set": "lobby", "clip": "maria.opus"}
    rows.events(
        [
            ("b1", "clip_start", now, {**clip, "title": "\ud800" * 3}),  # stored as \\ud800
            ("b1", "clip_end", now, {**clip, "listened_ms": 4000, "finished": False}),
        ]
    )
    with requests.Session() as browser:
        browser.post(f"{hub.url}/login", data={"token": hub.token}, timeout=5)
        page = browser.get(f"{hub.url}/dashboard/clips", timeout=5)
    assert page.status_code == 200 and "maria.opus" in page.text


def test_a_record_over_4_kib_is_rejected_and_not_stored(
    hub: HubProcess, booth: dict[str, str]
) -> None:
    big = {"event": "error", "at": 1700000000.0, "message": "x" * 900}
    big.update({f"field_{i}": "y" * 900 for i in range(5)})
    resp = post_events(hub, booth, [{"id": ID, "record": big}])
    assert resp.status_code == 200
    assert "more than 4096" in resp.json()["rejected"][ID]
    db = Database(hub.data / "hub.sqlite3")
    try:
        assert db.query("SELECT COUNT(*) FROM events")[0][0] == 0
    finally:
        db.close()


def test_validation_errors_never_echo_what_cannot_be_encoded(hub: HubProcess) -> None:
    """FastAPI's own 422 echoed the input; a lone surrogate or NaN made that answer a 500."""
    for body in (b'{"group":"\\ud800"}', b'{"group":"lobby","ttl_s":NaN}'):
        resp = post_raw(f"{hub.url}/api/v1/booths", body, admin_headers(hub))
        assert resp.status_code == 422, resp.text
        assert "input" not in resp.json()["detail"][0]


def test_a_booths_queue_never_sticks_behind_a_bad_record(hub: HubProcess, tmp_path: Path) -> None:
    """Rows an older booth queued unchecked: fitted or dropped, and the rest still arrive."""
    headers = new_booth(hub)
    me = Identity(hub.url, "b", headers["Authorization"].removeprefix("Bearer "))
    box = Outbox(tmp_path / "outbox.sqlite3")
    raw = [
        '{"event":"lift","at":NaN}',
        '{"event":"clip_end","at":1700000000,"set":"\\ud800","listened_ms":1e30}',
        '{"event":"error","at":1700000000,"message":"' + "x" * 20000 + '"}',
        '{"event":"lift","at":1700000001}',
    ]
    with sqlite3.connect(box.path) as outbox:
        outbox.executemany(
            "INSERT INTO events (id, body) VALUES (?, ?)",
            [(f"{i:032x}", r) for i, r in enumerate(raw)],
        )
    status = BoothStatus("lobby", 1, "ok", "", None, True, True)
    worker = FleetWorker(
        HubClient(me), box.path, FleetConfig(upload_interval=0.05), lambda: status, tmp_path
    )
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while len(box) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert len(box) == 0
    box.close()
    db = Database(hub.data / "hub.sqlite3")
    try:
        stored = db.query("SELECT event, set_name, listened_ms, body FROM events ORDER BY at")
    finally:
        db.close()
    assert [(e, s, ms) for e, s, ms, _ in stored] == [
        ("clip_end", "\ufffd", None),
        ("error", None, None),
        ("lift", None, None),
    ]
    assert len(json.loads(stored[1][3])["message"]) == 1000


def test_bodies_are_capped_before_parsing(hub: HubProcess, booth: dict[str, str]) -> None:
    huge = {"event": "error", "at": 1700000000.0, "message": "x" * 10_000_000}
    resp = post_events(hub, booth, [{"id": ID, "record": huge}])
    assert resp.status_code == 413
    enroll = f"{hub.url}/api/v1/enroll"
    big = b'{"token":"' + b"a" * 100_000 + b'"}'
    assert post_raw(enroll, big, {}).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(100):
            yield b"a" * 10_000

    streamed = requests.post(enroll, data=chunks(), timeout=10)
    assert streamed.status_code == 413
    assert requests.get(f"{hub.url}/healthz", timeout=5).status_code == 200


@pytest.mark.parametrize("path", ["/login", "/api/v1/enroll"])
def test_guessing_gets_429_with_retry_after(hub: HubProcess, path: str) -> None:
    answers = []
    for i in range(25):
        if path == "/login":
            resp = requests.post(f"{hub.url}/login", data={"token": f"wrong-{i}"}, timeout=5)
        else:
            resp = requests.post(f"{hub.url}{path}", json={"token": f"unknown-{i}"}, timeout=5)
        answers.append(resp.status_code)
    assert answers[:10] == [401] * 10 and set(answers[10:]) == {429}
    assert 1 <= int(resp.headers["Retry-After"]) <= 60


def test_an_operator_sets_the_rate_limits_on_the_command_line(tmp_path: Path) -> None:
    data = init_hub_data(tmp_path / "hub-data", tmp_path / "keys")
    with HubProcess(data, args=["--rate-limit", "heartbeats=3/minute"]) as hub:
        booth = new_booth(hub)
        answers = [
            post_raw(f"{hub.url}/api/v1/heartbeat", b"{}", booth).status_code for _ in range(4)
        ]
    assert answers == [200, 200, 200, 429]


def test_a_booth_is_held_to_its_events_per_minute(hub: HubProcess, booth: dict[str, str]) -> None:
    statuses = []
    for batch in range(7):
        events = [
            {"id": f"{batch:04x}{i:028x}", "record": {"event": "lift", "at": 1.7e9}}
            for i in range(1000)
        ]
        resp = post_events(hub, booth, events)
        statuses.append(resp.status_code)
    assert statuses == [200] * 6 + [429]
    assert int(resp.headers["Retry-After"]) >= 1
    other = new_booth(hub)  # another booth is not held back
    ok = post_events(hub, other, [{"id": ID, "record": {"event": "lift", "at": 1.7e9}}])
    assert ok.status_code == 200


def test_forms_from_another_origin_are_refused(hub: HubProcess) -> None:
    own = {"Origin": hub.url}
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
        {**own, "Sec-Fetch-Site": "cross-site"},
    ):
        resp = requests.post(
            f"{hub.url}/login",
            data={"token": hub.token},
            headers=headers,
            timeout=5,
            allow_redirects=False,
        )
        assert resp.status_code == 403, headers
    with requests.Session() as browser:
        login = browser.post(
            f"{hub.url}/login",
            data={"token": hub.token},
            headers=own,
            timeout=5,
            allow_redirects=False,
        )
        assert login.status_code == 303
        evil = browser.post(
            f"{hub.url}/logout",
            headers={"Origin": "https://evil.example"},
            timeout=5,
            allow_redirects=False,
        )
        assert evil.status_code == 403
        assert browser.get(f"{hub.url}/dashboard", timeout=5).url.endswith("/dashboard")


def test_a_real_browser_posts_no_form_from_another_page(hub: HubProcess, tmp_path: Path) -> None:
    """Chromium, logged in, opens a page elsewhere whose form posts to /logout: refused."""
    driver = chromium(tmp_path / "chromium")
    try:
        driver.get(f"{hub.url}/login")
        driver.find_element(By.ID, "token").send_keys(hub.token)
        click_through(driver, driver.find_element(By.ID, "login"))
        assert driver.current_url == f"{hub.url}/dashboard"
        attack = tmp_path / "attack.html"
        attack.write_text(
            f'<form method="post" action="{hub.url}/logout">'
            '<button id="go" type="submit">win a prize</button></form>'
        )
        driver.get(attack.as_uri())
        click_through(driver, driver.find_element(By.ID, "go"))
        assert "403" in driver.page_source
        driver.get(f"{hub.url}/dashboard")
        assert driver.current_url == f"{hub.url}/dashboard"  # still logged in
        click_through(driver, driver.find_element(By.ID, "logout"))  # its own form works
        assert driver.current_url == f"{hub.url}/login"
    finally:
        driver.quit()


def test_huge_listened_ms_stored_by_an_older_hub_still_add_up(
    hub: HubProcess, rows: FleetRows
) -> None:
    rows.booth("b1")
    for _ in range(2):
        rows.play("b1", time.time(), "lobby", "maria.opus", 2**62, False)
    with requests.Session() as browser:
        browser.post(f"{hub.url}/login", data={"token": hub.token}, timeout=5)
        assert browser.get(f"{hub.url}/dashboard/clips", timeout=5).status_code == 200
    metrics = requests.get(f"{hub.url}/metrics", headers=admin_headers(hub), timeout=5)
    assert metrics.status_code == 200 and "listen_seconds_total" in metrics.text
