"""systemd integration: sd_notify (READY, STATUS, WATCHDOG, EXTEND_TIMEOUT) and journald logging."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

_daemon: Any = None
_journal: Any = None
try:
    _daemon = importlib.import_module("systemd.daemon")
    _journal = importlib.import_module("systemd.journal")
except ImportError:  # not on Linux: notify is a no-op and logs go to stderr
    pass


def _sd_notify(state: str) -> bool:
    if _daemon is None:
        return False
    return bool(_daemon.notify(state))


class Notifier:
    """Talks to systemd through $NOTIFY_SOCKET; every method is a no-op outside systemd."""

    def __init__(
        self,
        send: Callable[[str], bool] = _sd_notify,
        environ: dict[str, str] | None = None,
        pid: int | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self._send = send
        self.enabled = bool(env.get("NOTIFY_SOCKET"))
        usec = env.get("WATCHDOG_USEC", "")
        owner = env.get("WATCHDOG_PID", "")
        mine = not owner or owner == str(os.getpid() if pid is None else pid)
        # Ping at half the watchdog period, as sd_watchdog_enabled(3) advises.
        self.watchdog_interval_s = int(usec) / 2e6 if usec.isdigit() and mine else None
        self._last_status = ""

    def ready(self, status: str) -> None:
        self._last_status = status
        self._notify(f"READY=1\nSTATUS={status}")

    def status(self, text: str) -> None:
        if text != self._last_status:
            self._last_status = text
            self._notify(f"STATUS={text}")

    def watchdog(self) -> None:
        self._notify("WATCHDOG=1")

    def extend_timeout(self, seconds: float) -> None:
        """Ask for more start-up time while we retry a missing device."""
        self._notify(f"EXTEND_TIMEOUT_USEC={int(seconds * 1e6)}")

    def stopping(self) -> None:
        self._notify("STOPPING=1\nSTATUS=stopping")

    def _notify(self, state: str) -> None:
        if self.enabled:
            self._send(state)


def under_systemd(environ: dict[str, str] | None = None) -> bool:
    """True when stderr goes to the journal (systemd sets JOURNAL_STREAM for services)."""
    env = os.environ if environ is None else environ
    return bool(env.get("JOURNAL_STREAM")) and _journal is not None


def setup_logging(level: str) -> None:
    """Journald with structured fields under systemd; plain lines on stderr otherwise.

    Lines carry no timestamp: journald adds its own.
    """
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler: logging.Handler
    if under_systemd() and _journal is not None:
        handler = _journal.JournalHandler(SYSLOG_IDENTIFIER="kiosk")
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper())
