"""The daemon following releases: it stages the one its channel carries and keeps the update
helper's hook file (`on`/`off`) in step with the handset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.admin.release import release
from tests.audio_rig import PulseSink
from tests.booth_runner import HeadlessBooth
from tests.content import Publisher
from tests.integration.test_booth_sync import sync_config
from tests.nginx import Nginx
from tests.releases import WheelFactory

pytestmark = pytest.mark.pulse


def test_the_daemon_stages_a_release_and_writes_the_hook_file(
    tmp_path: Path, pulse: PulseSink, release_wheels: WheelFactory
) -> None:
    publisher = Publisher(tmp_path / "admin")
    publisher.publish_clips("lobby", {"a.wav": 2.0})
    dest, signer = publisher.destination(), publisher.keys.signer("targets")
    release(release_wheels.project("99.0.0"), "stable", dest, signer)
    hook = tmp_path / "run" / "hook"
    hook.parent.mkdir()
    with Nginx(publisher.repo.folder, tmp_path / "nginx") as nginx:
        cfg = sync_config(
            tmp_path,
            nginx.url,
            publisher,
            update__hook_file=str(hook),
            update__status_file=str(tmp_path / "status.json"),
        )
        booth = HeadlessBooth(cfg, pulse.env)
        try:
            staged = booth.wait_for("update", 2, timeout=30)
            assert (staged["state"], staged["version"]) == ("staged", "99.0.0")
            assert booth.named("update")[0]["state"] == "downloading"
            assert hook.read_text() == "on\n"
            booth.send("lift")
            booth.wait_for("lift")
            assert hook.read_text() == "off\n"
            booth.send("hangup")
            booth.wait_for("hangup")
            assert hook.read_text() == "on\n"
        finally:
            assert booth.quit() == 0
    request = tmp_path / "state" / "update" / "request"
    assert json.loads(request.read_text()) == {"version": "99.0.0"}
