"""`kiosk run` as systemd runs it: sd_notify on a real datagram socket, watchdog, recovery."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.outbox import Outbox
from tests.audio_rig import PulseSink
from tests.booth_runner import HeadlessBooth, write_config
from tests.clipmaker import make_set

pytestmark = pytest.mark.pulse


class NotifySocket:
    """What systemd listens on: a unix datagram socket named by $NOTIFY_SOCKET."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages: list[tuple[float, str]] = []

    def collect(self, seconds: float) -> list[str]:
        """Everything received during the next `seconds`."""
        end = time.monotonic() + seconds
        got = []
        while (left := end - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                break
            self.messages.append((time.monotonic(), data))
            got.append(data)
        return got

    def wait_for(self, prefix: str, timeout: float = 15.0) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for message in self.collect(min(0.5, end - time.monotonic())):
                if message.startswith(prefix):
                    return message
        raise AssertionError(f"no {prefix!r} within {timeout} s; got {self.messages}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify")
    yield sock
    sock.close()


def start_daemon(config: Path, env: dict[str, str], notify: NotifySocket) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "run", "--config", str(config)],
        env={
            **os.environ,
            **env,
            "GPIOZERO_PIN_FACTORY": "mock",
            "NOTIFY_SOCKET": notify.path,
            "WATCHDOG_USEC": "2000000",  # ping every second
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop_daemon(proc: subprocess.Popen[str]) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return proc.returncode, err


def test_ready_status_and_watchdog(tmp_path: Path, pulse: PulseSink, notify: NotifySocket) -> None:
    make_set(tmp_path / "set")
    proc = start_daemon(write_config(tmp_path, tmp_path / "set"), pulse.env, notify)
    try:
        assert notify.wait_for("READY=1") == "READY=1\nSTATUS=idle"
        pings = notify.collect(3.5)
    finally:
        code, err = stop_daemon(proc)
    assert pings.count("WATCHDOG=1") >= 2, pings
    assert code == 0, err
    assert any(m.startswith("STOPPING=1") for m in notify.collect(0.3))
    assert "audio stream open on 'default'" in err


def test_a_stalled_audio_thread_lets_the_watchdog_fire_then_recovers(
    tmp_path: Path, notify: NotifySocket
) -> None:
    # A dedicated sound server that we freeze: PortAudio's thread then waits forever in ALSA.
    with PulseSink(tmp_path) as pulse:
        make_set(tmp_path / "set")
        proc = start_daemon(write_config(tmp_path, tmp_path / "set"), pulse.env, notify)
        try:
            notify.wait_for("READY=1")
            assert "WATCHDOG=1" in notify.collect(2.5)
            assert pulse._proc is not None
            os.kill(pulse._proc.pid, signal.SIGSTOP)
            try:
                notify.collect(2.2)  # pings already on their way may still land
                frozen = notify.collect(4.0)  # > WatchdogSec: systemd would restart us
            finally:
                os.kill(pulse._proc.pid, signal.SIGCONT)
            recovered = notify.collect(8.0)
        finally:
            code, err = stop_daemon(proc)
    assert "WATCHDOG=1" not in frozen, frozen
    assert any(m.startswith("STATUS=audio error") for _, m in notify.messages), notify.messages
    assert "WATCHDOG=1" in recovered, recovered
    assert "the audio callback stalled" in err
    assert code == 0, err


def test_a_paused_idle_stream_feeds_the_watchdog_and_a_stall_after_a_lift_fires_it(
    tmp_path: Path, notify: NotifySocket
) -> None:
    with PulseSink(tmp_path) as pulse:
        make_set(tmp_path / "set")
        config = write_config(tmp_path, tmp_path / "set", audio__idle_stop_s=0.5)
        env = {**pulse.env, "NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000"}
        booth = HeadlessBooth(config, env)
        try:
            notify.wait_for("READY=1")
            paused = notify.collect(3.5)
            paused_inputs = pulse.pactl("list", "short", "sink-inputs")
            stalled_while_paused = "stalled" in booth.stderr
            booth.send("lift")
            booth.wait_for("clip_start")
            playing_inputs = pulse.pactl("list", "short", "sink-inputs")
            assert pulse._proc is not None
            os.kill(pulse._proc.pid, signal.SIGSTOP)
            try:
                notify.collect(2.2)
                frozen = notify.collect(4.0)
            finally:
                os.kill(pulse._proc.pid, signal.SIGCONT)
            recovered = notify.collect(8.0)
            booth.send("hangup")
        finally:
            code = booth.quit()
    assert not paused_inputs.strip(), paused_inputs  # no stream, no callbacks
    assert paused.count("WATCHDOG=1") >= 2, paused
    assert not stalled_while_paused, booth.stderr
    assert playing_inputs.strip(), playing_inputs  # the lift opened it again
    assert "WATCHDOG=1" not in frozen, frozen
    assert "WATCHDOG=1" in recovered, recovered
    assert "the audio callback stalled" in booth.stderr
    assert code == 0, booth.stderr


def test_missing_audio_device_retries_without_crash_or_ready(
    tmp_path: Path, pulse: PulseSink, notify: NotifySocket
) -> None:
    make_set(tmp_path / "set")
    cfg = write_config(tmp_path, tmp_path / "set", audio__device="NoSuchCard")
    proc = start_daemon(cfg, pulse.env, notify)
    try:
        got = notify.collect(4.0)
        alive = proc.poll() is None
    finally:
        code, err = stop_daemon(proc)
    assert alive, err
    assert not any(m.startswith("READY=1") for m in got), got
    extends = [m for m in got if m.startswith("EXTEND_TIMEOUT_USEC=")]
    assert len(extends) >= 2, got  # one per attempt: 1 s, then 2 s back-off
    assert "audio.device: no output device matching 'NoSuchCard'" in err
    assert err.count("retrying in") >= 2
    assert code == 0, err
    # Every event also went to the durable outbox for the hub.
    box = Outbox(tmp_path / "state" / "outbox.sqlite3")
    queued = [q.record for q in box.batch()]
    box.close()
    assert any(r["event"] == "error" and r.get("source") == "audio" for r in queued), queued
