"""The console in headless Chromium against the real hub: a named admin logs in, opens a set,
plays a clip, retires it with the signed command line and sees the page and the audit change."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from importlib import resources
from pathlib import Path

import pytest
import requests
import yaml
from selenium import webdriver
from selenium.webdriver.common.by import By

from hub.cli import main as hub_cli
from hub.content import RepoView
from hub.db import Database
from kiosk.admin.cli import main as admin
from kiosk.content.repository import Repository
from tests.browser import click_through, screenshot
from tests.fleetrows import FleetRows
from tests.hubproc import HubProcess


def test_a_named_admin_listens_retires_and_sees_the_audit(
    tmp_path: Path, hub: HubProcess, browser: webdriver.Chrome, capsys: pytest.CaptureFixture[str]
) -> None:
    assert hub_cli(["admin", "add", "ana", "--data", str(hub.data)]) == 0
    token = capsys.readouterr().out.strip()

    def kiosk_admin(*args: str) -> int:
        common = ["--hub", hub.url, "--token", token, "--keys", str(tmp_path / "keys")]
        return admin([*args, *common, "--as", "Ana"])

    sample = tmp_path / "sample-set"
    shutil.copytree(resources.files("kiosk.data") / "sample-set", sample)  # type: ignore[arg-type]
    soon = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=12)
    doc = yaml.safe_load((sample / "clipset.yaml").read_text())
    doc["clips"][1]["expires"] = soon.isoformat()  # tom's consent ends in 12 days
    (sample / "clipset.yaml").write_text(yaml.safe_dump(doc))
    assert kiosk_admin("publish", str(sample), "--set", "lobby") == 0
    published = RepoView(Repository(hub.data / "repo")).manifest("lobby")
    assert published is not None
    maria_sha = next(c.sha256 for c in published.clips if c.file == "maria.opus")
    assert kiosk_admin("assign", "hall", "lobby") == 0
    db = Database(hub.data / "hub.sqlite3")
    try:
        rows = FleetRows(db)
        rows.booth("b1")
        for listened_ms, finished in ((4000, False), (9000, True)):
            rows.play("b1", time.time() - 60, "lobby", "tom.opus", listened_ms, finished)
        rows.booth("b2")
        rows.play("b2", time.time() - 60, "lobby", "priya.opus", 5700, True)
    finally:
        db.close()

    audio_url = f"{hub.url}/console/sets/lobby/audio/maria.opus"
    assert requests.get(audio_url, timeout=5).status_code == 401  # admin session only

    browser.get(f"{hub.url}/console/sets")
    assert browser.current_url == f"{hub.url}/login"
    browser.find_element(By.ID, "token").send_keys(token)
    click_through(browser, browser.find_element(By.ID, "login"))
    browser.get(f"{hub.url}/console/sets")
    assert browser.find_element(By.ID, "admin").text == "ana"
    viewport = browser.find_element(By.CSS_SELECTOR, 'meta[name="viewport"]')
    assert "width=device-width" in str(viewport.get_attribute("content"))
    row = browser.find_element(By.CSS_SELECTOR, 'tr[data-set="lobby"]')
    assert "hall" in row.text and "publish by Ana" in row.text
    assert "1 expiring within 30 days" in row.text
    assert "never holds the targets key" in browser.find_element(By.CLASS_NAME, "signed").text
    screenshot(browser, "console-sets")

    click_through(browser, row.find_element(By.LINK_TEXT, "lobby"))
    assert "Played by booth groups: hall" in browser.find_element(By.ID, "groups").text
    maria = browser.find_element(By.CSS_SELECTOR, '#clips tr[data-clip="maria.opus"]')
    assert "Maria, customer since 2019" in maria.text
    tom = browser.find_element(By.CSS_SELECTOR, '#clips tr[data-clip="tom.opus"]')
    assert tom.find_element(By.CSS_SELECTOR, ".plays").text == "2"
    expiry = tom.find_element(By.CLASS_NAME, "expiry")
    assert expiry.text == f"{soon} (in 12 d)" and "flag" in str(expiry.get_attribute("class"))
    player = maria.find_element(By.TAG_NAME, "audio")
    started = browser.execute_async_script(
        "const [a, done] = arguments; a.muted = true;"
        "a.play().then(() => done('playing'), e => done(e.name));",
        player,
    )
    assert started == "playing"
    state = browser.execute_script(
        "const a = arguments[0]; return [a.readyState, a.duration, a.error && a.error.code];",
        player,
    )
    assert state[0] >= 1 and state[1] > 1 and state[2] is None, state
    wait_s = time.monotonic() + 10
    while browser.execute_script("return arguments[0].currentTime", player) <= 0:
        assert time.monotonic() < wait_s, "the clip never advanced"
        time.sleep(0.1)
    screenshot(browser, "console-set-playing")

    assert kiosk_admin("retire", "lobby", "maria", "--reason", "withdrawn by phone") == 0
    browser.refresh()
    assert not browser.find_elements(By.CSS_SELECTOR, '#clips tr[data-clip="maria.opus"]')
    retired = browser.find_element(By.CSS_SELECTOR, '#retired tr[data-clip="maria.opus"]')
    assert "withdrawn by phone" in retired.text and "Ana" in retired.text
    first = browser.find_element(By.CSS_SELECTOR, "#audit tbody tr")
    assert first.find_element(By.CLASS_NAME, "actor").text == "ana"
    assert first.find_element(By.CLASS_NAME, "action").text == "retire"
    assert "- maria.opus" in browser.find_element(By.ID, "diff").text
    versions = browser.find_elements(By.CSS_SELECTOR, "#versions tbody tr")
    assert [v.get_attribute("data-version") for v in versions] == ["2", "1"]
    screenshot(browser, "console-set-retired")
    browser.set_window_size(390, 844)  # a phone: wide tables scroll inside the page
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    screenshot(browser, "console-set-phone")
    assert overflow <= 0
    browser.set_window_size(1280, 1800)
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    assert requests.get(audio_url, cookies=cookies, timeout=5).status_code == 410

    assert kiosk_admin("rollback", "lobby", "1") == 0  # consent wins: maria stays out
    browser.refresh()
    newest = browser.find_element(By.CSS_SELECTOR, "#versions tbody tr")
    assert newest.get_attribute("data-version") == "3"
    assert "rollback" in newest.text and "retired clips left out: maria.opus" in newest.text
    assert not browser.find_elements(By.CSS_SELECTOR, '#clips tr[data-clip="maria.opus"]')
    screenshot(browser, "console-set-rolled-back")

    browser.get(f"{hub.url}/console/consent")
    row = browser.find_element(By.CSS_SELECTOR, '#retired tr[data-clip="maria.opus"]')
    assert "withdrawn by phone" in row.text
    assert row.find_element(By.CLASS_NAME, "deleted").text == "none yet"
    db = Database(hub.data / "hub.sqlite3")
    try:  # b1 reports the deletion, as a booth's sync does (kiosk.sync.consent)
        removed = [f"cache/clips/{maria_sha}.opus", "sets/lobby-v1/maria.opus"]
        FleetRows(db).event("b1", "consent", time.time(), removed=removed, files=["maria.opus"])
    finally:
        db.close()
    browser.refresh()
    row = browser.find_element(By.CSS_SELECTOR, '#retired tr[data-clip="maria.opus"]')
    assert row.find_element(By.CLASS_NAME, "deleted").text.startswith("b1 (")
    assert f"{soon} (in 12 d)" in browser.find_element(By.ID, "expiry").text
    screenshot(browser, "console-consent")
    browser.get(f"{hub.url}/console/audit")
    actions = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#audit td.action")]
    assert actions == ["rollback", "retire", "assign", "publish", "admin add"]
    screenshot(browser, "console-audit")

    # The clips page: clip lengths, and charts with axes on one scale across small multiples.
    browser.get(f"{hub.url}/dashboard/clips")
    tom_row = browser.find_element(By.CSS_SELECTOR, '#by-plays tr[data-clip="tom.opus"]')
    assert tom_row.find_element(By.CLASS_NAME, "length").text == "6.7 s"

    def heights(css: str) -> list[float]:
        return [
            float(str(r.get_attribute("height")))
            for r in browser.find_elements(By.CSS_SELECTOR, css)
        ]

    tom_bars = heights('#hangups figure[data-clip="tom.opus"] rect')
    priya_bars = heights('#hangups figure[data-clip="priya.opus"] rect')
    # tom: half of his plays to the end; priya: all of hers. The same scale shows it.
    assert tom_bars[-1] == pytest.approx(priya_bars[-1] / 2, abs=0.2)
    ticks = [t.text for t in browser.find_elements(By.CSS_SELECTOR, "#hangups text.tick")]
    assert ticks[:3] == ["0 %", "50 %", "100 %"]
    per_booth = [
        max(heights(f"#lifts figure:nth-of-type({i}) rect")) for i in (1, 2)
    ]  # b1: 2 lifts, b2: 1 lift
    assert per_booth[1] == pytest.approx(per_booth[0] / 2, abs=0.2)
    screenshot(browser, "console-clips-charts")
