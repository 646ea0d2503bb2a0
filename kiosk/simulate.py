"""The desktop simulator: the real daemon on gpiozero's mock pins, driven by keys or stdin."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any, TextIO

from gpiozero.pins.mock import MockFactory

from kiosk.app import Booth
from kiosk.config import HookConfig


class SimulatedHook:
    """Moves a mock pin the way the real hook switch would, honouring pull-up and polarity."""

    def __init__(self, factory: MockFactory, hook: HookConfig) -> None:
        self.pin: Any = factory.pin(hook.pin)
        self.hook = hook

    def set(self, off_hook: bool) -> None:
        contact_closed = off_hook == (self.hook.active == "closed")
        # A closed contact pulls the pin to ground with a pull-up, to 3V3 with a pull-down.
        high = contact_closed != self.hook.pull_up
        if high:
            self.pin.drive_high()
        else:
            self.pin.drive_low()

    def lift(self) -> None:
        self.set(True)

    def hangup(self) -> None:
        self.set(False)


def start_booth(booth: Booth) -> threading.Thread:
    """Run the booth on its own thread (the simulator's main thread owns stdin or the window)."""
    thread = threading.Thread(target=booth.run, name="booth", daemon=True)
    thread.start()
    return thread


def run_headless(
    booth: Booth, hook: SimulatedHook, lines: Iterable[str], out: TextIO = sys.stdout
) -> int:
    """Execute `lift`, `hangup`, `sleep SECONDS`, `quit` lines; returns the exit code."""
    thread = start_booth(booth)
    try:
        while not booth.ready.wait(0.1):
            if not thread.is_alive():
                return 1
        hook.hangup()
        for number, raw in enumerate(lines, 1):
            words = raw.split()
            if not words or words[0].startswith("#"):
                continue
            command, args = words[0], words[1:]
            if command == "lift" and not args:
                hook.lift()
            elif command == "hangup" and not args:
                hook.hangup()
            elif command == "sleep" and len(args) == 1 and _seconds(args[0]) is not None:
                time.sleep(_seconds(args[0]) or 0.0)
            elif command == "quit":
                break
            else:
                problem = f"stdin:{number}: unknown command {raw.strip()!r}"
                problem += " (expected lift, hangup, sleep SECONDS or quit)"
                booth.post_report({"event": "error", "t": time.monotonic(), "message": problem})
        return 0
    finally:
        booth.request_stop()
        thread.join(timeout=10)
        out.flush()


def _seconds(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 <= value <= 86400 else None


def dump(record: dict[str, Any]) -> str:
    return json.dumps(record)
