"""The dashboard in headless Chromium against the real hub, and /metrics over HTTP.

Booths and events are written straight into the hub's database (tests.fleetrows) while it runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.common.by import By

from hub.db import Database
from kiosk.release.manifest import Channels
from tests.browser import click_through, screenshot
from tests.fleetrows import FleetRows
from tests.hubproc import HubProcess
from tests.release_channels import sign_channels

HEARTBEAT_S = 2.0  # the test booth's heartbeat interval: offline 3 s after its last one


@pytest.fixture
def rows(hub: HubProcess) -> Iterator[FleetRows]:
    db = Database(hub.data / "hub.sqlite3")
    yield FleetRows(db)
    db.close()


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def booth_state(browser: webdriver.Chrome, hub: HubProcess, booth_id: str) -> str:
    browser.get(f"{hub.url}/dashboard")
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-booth="{booth_id}"]')
    return str(row.find_element(By.CSS_SELECTOR, "td.state").text)


def test_log_in_see_a_booth_go_offline_and_a_clips_listen_through(
    hub: HubProcess, rows: FleetRows, browser: webdriver.Chrome
) -> None:
    now = time.time()
    rows.booth("b1", name="Lobby <script>alert(1)</script>", heartbeat_interval_s=HEARTBEAT_S)
    rows.booth("b2", name="Reception", grp="emea", revoked_at=now)
    for listened_ms, finished in ((4000, False), (12000, False), (30000, True)):
        rows.play("b1", now - 60, "lobby", "maria.opus", listened_ms, finished, title="<i>Maria")
    rows.event("b1", "live_end", now - 30, listened_ms=90000, reason="hangup")
    for changed in (True, False, False, True):  # dialed 1 after maria twice in four asks
        rating = {"digit": "1" if changed else None, "changed": changed}
        rows.event("b1", "rating", now - 20, set="lobby", clip="maria.opus", **rating)

    browser.get(f"{hub.url}/dashboard")
    assert browser.current_url == f"{hub.url}/login"
    browser.find_element(By.ID, "token").send_keys("wrong")
    click_through(browser, browser.find_element(By.ID, "login"))
    assert "not an admin token" in browser.find_element(By.ID, "login-error").text
    browser.find_element(By.ID, "token").send_keys(hub.token)
    click_through(browser, browser.find_element(By.ID, "login"))
    assert browser.current_url == f"{hub.url}/dashboard"
    cookie = browser.get_cookie("kiosk_hub_session")
    assert cookie is not None
    assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Strict")

    def online() -> bool:
        rows.heartbeat("b1", time.time(), sync_state="stale", set="lobby", set_version=7)
        return booth_state(browser, hub, "b1") == "online"

    wait_for(online, "b1 online")
    row = browser.find_element(By.CSS_SELECTOR, 'tr[data-booth="b1"]')
    assert row.find_element(By.CSS_SELECTOR, "td").text == "Lobby <script>alert(1)</script>"
    assert "sync stale" in row.text and "7" in row.text
    assert booth_state(browser, hub, "b2") == "revoked"
    wait_for(lambda: booth_state(browser, hub, "b1") == "offline", "b1 offline")
    screenshot(browser, "dashboard-booths")

    click_through(browser, browser.find_element(By.LINK_TEXT, "Clips"))
    played = browser.find_element(By.CSS_SELECTOR, '#by-plays tr[data-clip="maria.opus"]')
    assert played.find_element(By.CSS_SELECTOR, "td").text.startswith("<i>Maria")
    assert played.find_element(By.CSS_SELECTOR, ".listen-through").text == "33 %"
    assert played.find_element(By.CSS_SELECTOR, ".changed-view").text == "50 % of 4"
    lobby = browser.find_element(By.CSS_SELECTOR, '#by-set tr[data-set="lobby"]')
    assert lobby.find_element(By.CSS_SELECTOR, ".changed-view").text == "50 % of 4"
    assert lobby.find_element(By.CSS_SELECTOR, ".listen-through").text == "33 %"
    bars = browser.find_elements(By.CSS_SELECTOR, '#hangups figure[data-clip="maria.opus"] rect')
    assert len(bars) == 13  # 12 buckets of 5 s, then "to the end"
    assert "Live share of listening time: 66 %" in browser.find_element(By.ID, "share").text
    assert browser.find_elements(By.CSS_SELECTOR, "#fleet-lifts svg rect")
    screenshot(browser, "dashboard-clips")

    click_through(browser, browser.find_element(By.ID, "logout"))
    browser.get(f"{hub.url}/dashboard/clips")
    assert browser.current_url == f"{hub.url}/login"


def test_metrics_wants_the_admin_token(hub: HubProcess, rows: FleetRows) -> None:
    rows.booth("b1")
    rows.heartbeat("b1", time.time(), sync_state="error")
    rows.play("b1", time.time(), "lobby", "a.opus", 2500, False)
    url = f"{hub.url}/metrics"
    for auth in (None, "Bearer wrong", f"Basic {hub.token}"):
        headers = {"Authorization": auth} if auth else {}
        assert requests.get(url, headers=headers, timeout=5).status_code == 401
    resp = requests.get(url, headers={"Authorization": f"Bearer {hub.token}"}, timeout=5)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = resp.text.splitlines()
    for sample in (
        "booths_online 1",
        "sync_stale_booths 1",
        "lifts_total 1",
        'listen_seconds_total{set="lobby",kind="clip"} 2.5',
    ):
        assert sample in lines


def log_in(browser: webdriver.Chrome, hub: HubProcess) -> None:
    browser.get(f"{hub.url}/login")
    browser.find_element(By.ID, "token").send_keys(hub.token)
    click_through(browser, browser.find_element(By.ID, "login"))
    assert browser.current_url == f"{hub.url}/dashboard"


def test_each_booth_s_version_and_each_channel_s_rollout(
    hub: HubProcess, rows: FleetRows, browser: webdriver.Chrome
) -> None:
    now = time.time()
    software = {
        "b1": ("emea", {"version": "1.0", "update_state": "idle"}),
        "b2": ("emea", {"version": "0.9", "update_state": "staged", "update_version": "1.0"}),
        "b3": (
            "lab",
            {
                "version": "1.0",
                "update_state": "rolled_back",
                "update_version": "1.1",
                "update_reason": "<b>never reached READY=1</b>",
            },
        ),
        "b4": ("lab", {"version": "1.1", "update_state": "probation", "update_version": "1.1"}),
    }
    for booth_id, (grp, hb) in software.items():
        rows.booth(booth_id, grp=grp)
        rows.heartbeat(booth_id, now, **hb)
    rows.booth("b5", grp="emea")  # a row an older hub or a hand edit left: never a failed page
    with rows.db.transaction() as cur:
        cur.execute(
            "UPDATE booths SET last_seen = ?, heartbeat = ?, version = ?, update_state = ? "
            "WHERE id = 'b5'",
            (now, '{"update_state": ["rolled_back"', "<script>x</script>" * 20, "failed"),
        )
    log_in(browser, hub)
    assert browser.find_element(By.ID, "no-channels").is_displayed()  # none signed yet
    b5 = browser.find_element(By.CSS_SELECTOR, 'tr[data-booth="b5"]')
    assert "unreadable heartbeat" in b5.text
    versions = browser.find_element(By.ID, "versions")
    assert versions.find_element(By.CSS_SELECTOR, 'tr[data-version="1.0"] td.num').text == "2"

    channels = Channels({"stable": "1.0", "canary": "1.1"}, {"lab": "canary"})
    sign_channels(hub.data, hub.data.parent / "keys", channels)
    browser.get(f"{hub.url}/dashboard")
    b3 = browser.find_element(By.CSS_SELECTOR, 'tr[data-booth="b3"]')
    assert b3.find_element(By.CSS_SELECTOR, "td.version").text == "1.0"
    update = b3.find_element(By.CSS_SELECTOR, "td.update").text
    assert update == "rolled_back 1.1: <b>never reached READY=1</b>"  # escaped, shown as text
    assert "update to 1.1 rolled back" in b3.find_element(By.CSS_SELECTOR, "td.problems").text
    stable = browser.find_element(By.CSS_SELECTOR, '#rollout tr[data-channel="stable"]')
    assert stable.find_element(By.CSS_SELECTOR, "td.on-target").text == "1"
    assert stable.find_element(By.CSS_SELECTOR, "td.staged").text == "1"
    canary = browser.find_element(By.CSS_SELECTOR, '#rollout tr[data-channel="canary"]')
    assert canary.find_element(By.CSS_SELECTOR, "td.probation").text == "1"
    assert canary.find_element(By.CSS_SELECTOR, "td.failed").text == "1"
    failure = browser.find_element(By.CSS_SELECTOR, '#update-failures tr[data-booth="b3"]')
    assert "never reached READY=1" in failure.text
    screenshot(browser, "dashboard-rollout")

    resp = requests.get(
        f"{hub.url}/metrics", headers={"Authorization": f"Bearer {hub.token}"}, timeout=5
    )
    lines = resp.text.splitlines()
    for sample in (
        'kiosk_booths_by_version{version="1.0"} 2',
        'kiosk_booths_by_update_state{state="staged"} 1',
        'kiosk_release_channel_info{channel="stable",version="1.0"} 1',
        'kiosk_channel_booths{channel="canary",version="1.1"} 1',
    ):
        assert sample in lines, sample
