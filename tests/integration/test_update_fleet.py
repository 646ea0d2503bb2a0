"""Issue 13 end to end: a fleet moves from v1 to v2 and back by admin command alone, and a
broken release heals itself. All real parts: the hub (`kiosk-hub serve`) with `kiosk-admin
release`/`assign-release` through it, a booth installed by scripts/install.sh whose daemon (under
tests/supervisor.py) syncs from the hub with the real downloader, then `kiosk-update apply` as
the path unit would run it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from kiosk.admin.cli import main as admin
from kiosk.release.manifest import parse_channels
from kiosk.update.staging import UpdateDir
from tests.audio_rig import PulseSink
from tests.hubproc import HubProcess
from tests.integration.test_install import NEEDS_INSTALLER
from tests.live_hub_rig import enroll_into
from tests.release_apply import ApplyWheels
from tests.releases import SECOND
from tests.update_booth import UpdateBooth

pytestmark = [pytest.mark.pulse, *NEEDS_INSTALLER]
TOKEN = "test-admin-token"


def via_hub(tmp_path: Path, hub: HubProcess, *args: str) -> None:
    cmd = ["--hub", hub.url, "--token", TOKEN, "--keys", str(tmp_path / "keys"), *args]
    assert admin(cmd) == 0, args


@pytest.fixture
def booth(
    tmp_path: Path, hub: HubProcess, apply_wheels: ApplyWheels, pulse: PulseSink
) -> Iterator[UpdateBooth]:
    via_hub(tmp_path, hub, "release", str(apply_wheels.v1), "--channel", "stable")
    root = hub.data / "repo" / "metadata" / "1.root.json"
    booth = UpdateBooth(tmp_path / "booth", apply_wheels.v1, root, pulse.env)
    text = booth.config.read_text().replace('"http://127.0.0.1:9/repo"', f'"{hub.url}/repo"')
    assert f"{hub.url}/repo" in text
    # A sync each second (the daemon syncs at start too): no waiting for the default 300 s.
    text = text.replace("sync:\n", "sync:\n  interval: 1.0\n  jitter: 0\n", 1)
    assert "\nfleet:" not in text
    booth.config.write_text(text + "fleet:\n  heartbeat_interval: 5\n")
    booth.booth_id = enroll_into(hub, booth.state).booth_id
    try:
        yield booth
    finally:
        booth.stop()


def heartbeat(hub: HubProcess, booth: UpdateBooth) -> dict[str, Any]:
    """The booth's last heartbeat, as the hub's API gives it."""
    auth = {"Authorization": f"Bearer {hub.token}"}
    got = requests.get(f"{hub.url}/api/v1/booths/{booth.booth_id}", headers=auth, timeout=10)
    beat: dict[str, Any] = got.json()["heartbeat"] or {}
    return beat


def reported(hub: HubProcess, booth: UpdateBooth, **want: str) -> dict[str, Any]:
    """Wait until the booth's heartbeat at the hub has the fields `want`."""
    booth.wait(
        lambda: all(heartbeat(hub, booth).get(k) == v for k, v in want.items()),
        f"a heartbeat with {want} (last {heartbeat(hub, booth)})",
        60,
    )
    return heartbeat(hub, booth)


def metrics(hub: HubProcess) -> str:
    auth = {"Authorization": f"Bearer {hub.token}"}
    return requests.get(f"{hub.url}/metrics", headers=auth, timeout=10).text


def staged(booth: UpdateBooth, version: str) -> None:
    """The daemon's downloader stages `version` from the hub at one of its syncs."""
    update = UpdateDir(booth.state)
    booth.wait(lambda: update.staged_version() == version, f"{version} staged", 120)


def applied(booth: UpdateBooth, version: str) -> None:
    """`kiosk-update apply` (the path unit's job) switches the booth to `version`."""
    done = booth.helper()
    assert done.returncode == 0, done.stderr
    status = booth.status()
    assert status["state"] == "idle" and status["running"] == version, status
    assert booth.running() == f"venvs/{version}"
    booth.wait(lambda: booth.sup().get("ready") is True, f"READY of {version}")
    assert booth.sup()["running"].endswith(f"venvs/{version}/bin/kiosk")


def test_a_fleet_moves_to_v2_and_back_by_admin_command_and_a_broken_release_heals_itself(
    tmp_path: Path, hub: HubProcess, booth: UpdateBooth, apply_wheels: ApplyWheels
) -> None:
    booth.start()
    assert booth.running() == "venvs/0.1.0"
    # v2 on stable: the daemon finds, downloads and stages it; the helper switches.
    via_hub(tmp_path, hub, "release", str(apply_wheels.v2), "--channel", "stable")
    staged(booth, "0.2.0")
    channels = (booth.state / "update" / "staged" / "channels.json").read_bytes()
    assert parse_channels(channels).wanted("lobby") == ("0.2.0", False)
    applied(booth, "0.2.0")
    assert SECOND in booth.sup()["ready_message"]
    reported(hub, booth, version="0.2.0", update_state="idle")
    assert 'kiosk_channel_booths{channel="stable",version="0.2.0"} 1' in metrics(hub)

    # The admin pins the group to v1: the only way back (the helper reads the staged channels).
    via_hub(tmp_path, hub, "assign-release", "lobby", "0.1.0")
    staged(booth, "0.1.0")
    applied(booth, "0.1.0")
    assert SECOND not in booth.sup()["ready_message"]
    reported(hub, booth, version="0.1.0", update_state="idle")
    assert 'kiosk_channel_booths{channel="pinned 0.1.0",version="0.1.0"} 1' in metrics(hub)
    assert booth.venvs() == ["0.1.0", "0.2.0"]

    # A broken release on stable (it raises at import): rolled back, reported, never retried.
    via_hub(tmp_path, hub, "assign-release", "lobby", "stable")
    via_hub(tmp_path, hub, "release", str(apply_wheels.broken), "--channel", "stable")
    staged(booth, "0.3.0")
    done = booth.helper()
    assert done.returncode == 1, done.stderr
    status = booth.status()
    assert status["state"] == "rolled_back" and status["version"] == "0.3.0", status
    assert status["running"] == "0.1.0" and status["bad"] == ["0.3.0"], status
    assert status["reason"], status
    booth.wait(lambda: booth.sup().get("ready") is True, "READY of 0.1.0 again")
    assert booth.running() == "venvs/0.1.0" and "0.3.0" not in booth.venvs()
    generation = booth.sup()["generation"]
    again = booth.helper()
    assert again.returncode == 1 and booth.status() == status
    assert booth.sup()["generation"] == generation
    beat = reported(hub, booth, version="0.1.0", update_state="rolled_back")
    assert beat["update_version"] == "0.3.0" and beat["update_reason"] == status["reason"], beat
    assert 'kiosk_booths_by_update_state{state="rolled_back"} 1' in metrics(hub)
    # Later syncs leave it alone: nothing staged again, the report stands.
    request = (booth.state / "update" / "request").stat().st_ino
    time.sleep(3)  # three sync intervals
    assert (booth.state / "update" / "request").stat().st_ino == request
    assert heartbeat(hub, booth)["update_state"] == "rolled_back"
