"""Shared fixtures: the paced PulseAudio sink (one per session), the ALSA file capture, the hub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver

from hub.db import Database, open_database
from tests.audio_rig import AlsaFileCapture, PulseSink
from tests.browser import chromium
from tests.content import Publisher, close_syncers
from tests.hubproc import HubProcess, init_hub_data
from tests.nginx import Nginx
from tests.postgres import Postgres
from tests.release_apply import ApplyWheels
from tests.releases import WheelFactory


@pytest.fixture(scope="session")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseSink]:
    """A private PulseAudio daemon with a clocked 48 kHz null sink, stopped after the session."""
    with PulseSink(tmp_path_factory.mktemp("pulse")) as sink:
        yield sink


@pytest.fixture
def publisher(tmp_path: Path) -> Publisher:
    """An admin with keys and an empty signed repository."""
    return Publisher(tmp_path / "admin")


@pytest.fixture
def nginx(tmp_path: Path, publisher: Publisher) -> Iterator[Nginx]:
    """Debian's nginx serving the publisher's repository on 127.0.0.1."""
    with Nginx(publisher.repo.folder, tmp_path / "nginx") as server:
        yield server


@pytest.fixture
def file_capture(tmp_path: Path) -> AlsaFileCapture:
    return AlsaFileCapture(tmp_path)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    """The real hub (uvicorn on 127.0.0.1) on an empty repository; admin keys in tmp/keys."""
    with HubProcess(init_hub_data(tmp_path / "hub-data", tmp_path / "keys")) as server:
        yield server


@pytest.fixture(autouse=True)
def _close_syncers() -> Iterator[None]:
    """HTTP sessions opened by tests.content.booth_syncer are closed after each test."""
    yield
    close_syncers()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """Debian's PostgreSQL on a private unix socket, stopped after the session."""
    with Postgres() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The hub's database layer on SQLite, then on Debian's PostgreSQL; closed after."""
    if request.param == "sqlite":
        db = open_database(tmp_path / "hub.sqlite3")
    else:
        db = open_database(tmp_path, request.getfixturevalue("postgres").new_database())
    yield db
    db.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """Headless Chromium (tests.browser), quit after the test."""
    driver = chromium(tmp_path / "chromium")
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def release_wheels(tmp_path_factory: pytest.TempPathFactory) -> WheelFactory:
    """Real project wheels at any version (`.project("2.0.0")`), built once per session."""
    return WheelFactory(tmp_path_factory.mktemp("release-wheels"))


@pytest.fixture(scope="session")
def apply_wheels(release_wheels: WheelFactory) -> ApplyWheels:
    """v1, v2 and a broken v3 of this project (tests.release_apply), built once per session."""
    return ApplyWheels.build(release_wheels)
