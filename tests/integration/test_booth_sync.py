"""The daemon with sync on: a new set arrives while someone listens and waits for the hang-up."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.audio_rig import PulseSink
from tests.bad_proxy import BadProxy
from tests.booth_runner import HeadlessBooth, write_config
from tests.content import Publisher
from tests.nginx import Nginx

pytestmark = pytest.mark.pulse


def sync_config(tmp_path: Path, url: str, publisher: Publisher, **extra: object) -> Path:
    """A booth following set "lobby" from `url`, a sync each second, one clip per lift."""
    return write_config(
        tmp_path,
        tmp_path / "state" / "sets" / "current",
        sync__url=url,
        sync__root=publisher.root_json,
        sync__set="lobby",
        sync__interval=1,
        sync__jitter=0,
        max_clips_per_lift=1,
        **extra,
    )


def test_new_set_activates_only_on_the_hook(tmp_path: Path, pulse: PulseSink) -> None:
    publisher = Publisher(tmp_path / "admin")
    publisher.publish_clips("lobby", {"a.wav": 4.0})
    with Nginx(publisher.repo.folder, tmp_path / "nginx") as nginx:
        cfg = sync_config(tmp_path, nginx.url, publisher)
        booth = HeadlessBooth(cfg, pulse.env)
        try:
            first = booth.wait_for("sync")
            assert (first["state"], first["version"]) == ("ok", 1)
            booth.send("lift")
            assert booth.wait_for("clip_start")["clip"] == "a.opus"
            publisher.publish_clips("lobby", {"b.wav": 1.0})
            time.sleep(3)  # several sync rounds while the handset is off the hook
            assert len(booth.named("sync")) == 1  # staged, not activated mid-lift
            booth.send("hangup")
            hang = booth.wait_for("hangup")
            second = booth.wait_for("sync", 2)
            assert (second["state"], second["version"]) == ("ok", 2)
            assert second["t"] >= hang["t"]
            booth.send("lift")
            assert booth.wait_for("clip_start", 2)["clip"] == "b.opus"
            booth.send("hangup")
            booth.wait_for("hangup", 2)
        finally:
            assert booth.quit() == 0
    assert (tmp_path / "state" / "sets" / "previous").is_symlink()


def test_a_dead_server_never_silences_the_booth(tmp_path: Path, pulse: PulseSink) -> None:
    publisher = Publisher(tmp_path / "admin")
    publisher.publish_clips("lobby", {"a.wav": 1.0})
    nginx = Nginx(publisher.repo.folder, tmp_path / "nginx").start()
    cfg = sync_config(tmp_path, nginx.url, publisher)
    booth = HeadlessBooth(cfg, pulse.env)
    try:
        booth.wait_for("sync")
        nginx.stop()  # the hub is gone
        failed = booth.wait_for("sync", 2, timeout=20)
        assert failed["state"] == "error" and "cannot reach" in failed["reason"]
        booth.send("lift")
        assert booth.wait_for("clip_start")["clip"] == "a.opus"
        booth.send("hangup")
        booth.wait_for("hangup")
    finally:
        nginx.stop()
        assert booth.quit() == 0


def test_a_trickling_server_turns_the_booth_stale(tmp_path: Path, pulse: PulseSink) -> None:
    """Headers at 1 byte each 0.2 s: the sync ends at sync.deadline_s and the booth says why."""
    publisher = Publisher(tmp_path / "admin")
    publisher.publish_clips("lobby", {"a.wav": 1.0})
    with (
        Nginx(publisher.repo.folder, tmp_path / "nginx") as nginx,
        BadProxy(nginx.url, "pass", pause_s=0.2) as proxy,
    ):
        cfg = sync_config(tmp_path, proxy.url, publisher, sync__deadline_s=10)
        booth = HeadlessBooth(cfg, pulse.env)
        try:
            assert booth.wait_for("sync")["state"] == "ok"
            proxy.mode = "trickle_headers"
            stale = booth.wait_for("sync", 2, timeout=40)
            assert stale["state"] == "stale", stale
            assert "deadline" in stale["reason"] and "/metadata/" in stale["reason"]
            assert proxy.trickles_finished == 0
            booth.send("lift")
            assert booth.wait_for("clip_start")["clip"] == "a.opus"
            booth.send("hangup")
            booth.wait_for("hangup")
        finally:
            assert booth.quit() == 0


def test_a_corrupt_active_set_heals_at_the_next_sync(tmp_path: Path, pulse: PulseSink) -> None:
    publisher = Publisher(tmp_path / "admin")
    publisher.publish_clips("lobby", {"a.wav": 1.0})
    current = tmp_path / "state" / "sets" / "current"
    with Nginx(publisher.repo.folder, tmp_path / "nginx") as nginx:
        cfg = sync_config(tmp_path, nginx.url, publisher)
        booth = HeadlessBooth(cfg, pulse.env)
        try:
            assert booth.wait_for("sync")["version"] == 1
            bad = current.resolve()
            good_bytes = (bad / "a.opus").read_bytes()
            with (bad / "a.opus").open("r+b") as f:  # a bit flips on the SD card
                f.seek(len(good_bytes) // 2)
                f.write(bytes([good_bytes[len(good_bytes) // 2] ^ 0x01]))
            healed = booth.wait_for("sync", 2, timeout=20)
            assert (healed["state"], healed["version"]) == ("ok", 1)
            heal = booth.wait_for("heal")  # for the hub: a booth whose SD card may be wearing
            assert (heal["set"], heal["clip"]) == ("lobby", "a.opus")
            assert current.resolve() != bad and current.resolve().name == "lobby-v1-r2"
            assert (current / "a.opus").read_bytes() == good_bytes
            assert not (bad / "a.opus").exists()
            booth.send("lift")
            assert booth.wait_for("clip_start")["clip"] == "a.opus"
            booth.send("hangup")
            booth.wait_for("hangup")
        finally:
            assert booth.quit() == 0
