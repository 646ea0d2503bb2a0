"""SocketGuard on real sockets: a blocked read returns when the deadline passes.

Through the whole fetcher, against a hostile server: tests/integration/test_sync_attacks.py.
"""

from __future__ import annotations

import socket
import time

from kiosk.sync.deadline import SocketGuard


def test_a_read_blocked_past_the_deadline_returns_and_the_guard_says_why() -> None:
    guard = SocketGuard()
    ours, theirs = socket.socketpair()
    try:
        ours.settimeout(30)  # far longer than the test may take: only the guard can end it
        guard.watch(ours)
        guard.arm(time.monotonic() + 0.05)
        assert ours.recv(1) == b""  # the guard shut it down: end of stream at once
        assert guard.tripped
    finally:
        guard.disarm()
        ours.close()
        theirs.close()


def test_a_disarmed_guard_leaves_the_socket_alone() -> None:
    guard = SocketGuard()
    ours, theirs = socket.socketpair()
    try:
        guard.watch(ours)
        guard.arm(time.monotonic() + 0.05)
        guard.disarm()
        time.sleep(0.1)
        theirs.sendall(b"x")
        assert ours.recv(1) == b"x" and not guard.tripped
        guard.arm(time.monotonic() - 1)  # already passed: trips at once
        ours.settimeout(30)
        assert ours.recv(1) == b"" and guard.tripped
    finally:
        guard.disarm()
        ours.close()
        theirs.close()


def test_a_late_timer_of_an_earlier_deadline_does_nothing() -> None:
    """A timer already firing when its request ended must not cut the next request."""
    guard = SocketGuard()
    ours, theirs = socket.socketpair()
    try:
        guard.watch(ours)
        guard.arm(time.monotonic() + 60)
        earlier = guard._armed
        guard.disarm()
        guard.arm(time.monotonic() + 60)  # the next request
        guard._trip(earlier)  # what the first timer does if it was already running
        theirs.sendall(b"x")
        assert ours.recv(1) == b"x" and not guard.tripped
    finally:
        guard.disarm()
        ours.close()
        theirs.close()
