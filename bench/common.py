"""Pieces both benchmarks use."""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any


class BenchError(RuntimeError):
    """A measurement could not be taken."""


class EventLog:
    """An EventSink that keeps every event and lets the bench wait for one."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()

    def publish(self, record: dict[str, Any]) -> None:
        with self._cond:
            self.events.append(dict(record))
            self._cond.notify_all()

    def wait(self, event: str, count: int, timeout: float = 10.0) -> dict[str, Any]:
        """The `count`-th event named `event` (1-based), waiting up to `timeout` for it."""

        def found() -> list[dict[str, Any]]:
            return [e for e in self.events if e.get("event") == event]

        with self._cond:
            if not self._cond.wait_for(lambda: len(found()) >= count, timeout):
                raise BenchError(f"no {event!r} event #{count} within {timeout} s")
            return found()[count - 1]

    def between(self, event: str, t0: float, t1: float) -> list[dict[str, Any]]:
        with self._cond:
            return [e for e in self.events if e.get("event") == event and t0 <= e["t"] <= t1]

    def named(self, *names: str) -> list[dict[str, Any]]:
        with self._cond:
            return [e for e in self.events if e.get("event") in names]


def cpu_seconds(stat_path: Path) -> float:
    """User + system CPU seconds from a /proc stat file (a process includes finished threads)."""
    text = stat_path.read_text()
    fields = text[text.rindex(")") + 2 :].split()
    # Fields 14 and 15 of proc(5), counted from 1; `fields` starts at field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # run the finally blocks: stop nginx, PulseAudio, the children


def run_main(name: str, run: Callable[[Path], dict[str, Any]]) -> int:
    """Run one benchmark in a temp folder; the last stdout line is its JSON (or an error)."""
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix=f"kiosk-{name.replace('.', '-')}-") as tmp:
            figures = run(Path(tmp))
    except BenchError as e:
        print(f"{name}: {e}", file=sys.stderr)
        print(json.dumps({"error": str(e)}))
        return 1
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    figures["bench_seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(figures))
    return 0
