"""How the update helper restarts the daemon and watches its health.

Two backends behind one small interface: systemd (`systemctl restart --no-block`, then
`systemctl show` for ActiveState, which a Type=notify service reaches on READY=1, and NRestarts),
and a supervisor process that writes its state to a JSON file and restarts its child on SIGHUP
(tests/supervisor.py runs `kiosk run` that way where systemd is not PID 1).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kiosk.errors import KioskError

Sleep = Callable[[float], None]
Clock = Callable[[], float]


class SupervisorError(KioskError, OSError):
    """The supervisor could not be reached or did not restart the daemon."""


@dataclass(frozen=True)
class Health:
    """The daemon as its supervisor sees it: READY (active) and how often it was restarted."""

    ready: bool
    restarts: int


class Supervisor(Protocol):
    def restart(self) -> None:
        """Stop the daemon and start it again from /opt/kiosk/current (returns once stopped)."""

    def health(self) -> Health:
        """The daemon's current state."""


class SystemdSupervisor:
    """kiosk.service under systemd."""

    def __init__(self, unit: str = "kiosk.service", systemctl: str = "systemctl") -> None:
        self.unit = unit
        self.systemctl = systemctl

    def _run(self, *args: str) -> str:
        try:
            done = subprocess.run(
                [self.systemctl, *args], capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise SupervisorError(f"systemctl {' '.join(args)}: {e}") from e
        if done.returncode != 0:
            raise SupervisorError(f"systemctl {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def restart(self) -> None:
        self._run("restart", "--no-block", self.unit)

    def health(self) -> Health:
        return parse_show(self._run("show", "-p", "ActiveState,SubState,NRestarts", self.unit))


def parse_show(text: str) -> Health:
    """`systemctl show -p ActiveState,SubState,NRestarts` output as Health."""
    props = dict(line.partition("=")[::2] for line in text.splitlines() if "=" in line)
    try:
        restarts = int(props.get("NRestarts", "0"))
    except ValueError as e:
        raise SupervisorError(f"systemctl show: NRestarts: {props.get('NRestarts')!r}") from e
    ready = props.get("ActiveState") == "active" and props.get("SubState") == "running"
    return Health(ready, restarts)


class FileSupervisor:
    """A supervisor process that publishes its state in `state_file`.

    The file holds {"pid": the supervisor, "generation": planned starts, "ready": READY=1 seen
    from the current child, "restarts": unplanned restarts}; SIGHUP asks for a restart.
    """

    def __init__(
        self, state_file: Path, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
    ) -> None:
        self.state_file = state_file
        self.clock = clock
        self.sleep = sleep

    def _state(self) -> dict[str, object]:
        try:
            doc = json.loads(self.state_file.read_text())
        except (OSError, ValueError) as e:
            raise SupervisorError(f"{self.state_file}: {e}") from e
        if not isinstance(doc, dict):
            raise SupervisorError(f"{self.state_file}: not a JSON object")
        return doc

    def _int(self, doc: dict[str, object], key: str) -> int:
        value = doc.get(key)
        if not isinstance(value, int):
            raise SupervisorError(f"{self.state_file}: {key}: {value!r}")
        return value

    def restart(self) -> None:
        doc = self._state()
        generation = self._int(doc, "generation")
        try:
            os.kill(self._int(doc, "pid"), signal.SIGHUP)
        except OSError as e:
            raise SupervisorError(f"the supervisor ({self.state_file}): {e}") from e
        end = self.clock() + 60
        while self._int(self._state(), "generation") <= generation:
            if self.clock() > end:
                raise SupervisorError(f"the supervisor ({self.state_file}) did not restart")
            self.sleep(0.02)

    def health(self) -> Health:
        doc = self._state()
        return Health(doc.get("ready") is True, self._int(doc, "restarts"))
