"""sd_notify through systemd-python to a real unix datagram socket, as systemd listens."""

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.systemd import Notifier


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    yield sock, path
    sock.close()


def test_messages_reach_the_socket(
    notify_socket: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, path = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())}
    n = Notifier(environ=env)
    assert n.watchdog_interval_s == 5.0
    n.ready("idle")
    assert sock.recv(4096) == b"READY=1\nSTATUS=idle"
    n.status("idle")  # unchanged: not sent again
    n.status("playing: I almost cancelled")
    assert sock.recv(4096) == b"STATUS=playing: I almost cancelled"
    n.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    n.extend_timeout(3)
    assert sock.recv(4096) == b"EXTEND_TIMEOUT_USEC=3000000"


def test_outside_systemd_nothing_is_sent() -> None:
    sent: list[str] = []

    def send(state: str) -> bool:
        sent.append(state)
        return True

    n = Notifier(send=send, environ={})
    n.ready("idle")
    n.watchdog()
    assert sent == [] and n.watchdog_interval_s is None


def test_watchdog_meant_for_another_process_is_ignored() -> None:
    n = Notifier(environ={"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"})
    assert n.watchdog_interval_s is None
