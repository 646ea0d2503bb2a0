"""A real Booth with a status lamp (PWMLED) and a bell on gpiozero's mock pins, in a child
process so PortAudio starts with the audio rig's ALSA config:

    python -m tests.lamp_child --workdir DIR

It walks the booth through idle, a lift, a hang-up, a stale sync, a live call's bell and the
stop, and prints one JSON line: the lamp's look and pin level at each step, the bell pin's
levels and the booth's bell events. tests/integration/test_lamp.py asserts on it.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPWMPin

from kiosk.app import Booth
from kiosk.bell import RingBell
from kiosk.config import load_config
from kiosk.events import SyncFailed
from kiosk.lamp import Look
from kiosk.simulate import SimulatedHook
from kiosk.systemd import Notifier
from tests.booth_runner import write_config
from tests.clipmaker import make_set

LAMP_PIN, BELL_PIN = 18, 23


class Events:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def publish(self, record: dict[str, Any]) -> None:
        self.records.append(record)


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.005)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, required=True)
    workdir: Path = parser.parse_args().workdir
    make_set(workdir / "set", {"a.wav": 5.0, "b.wav": 5.0})
    path = write_config(workdir, workdir / "set", status_led__pin=LAMP_PIN)
    with path.open("a") as f:
        f.write("  pwm: true\nbell:\n  pin: 23\n  quiet_hours: []\n  ring_s: 0.1\n")
    config = load_config(path)
    factory = MockFactory(pin_class=MockPWMPin)
    hook = SimulatedHook(factory, config.hook)
    events = Events()
    booth = Booth(config, [events], Notifier(environ={}), pin_factory=factory)
    lamp_pin: Any = factory.pin(LAMP_PIN)
    bell_pin: Any = factory.pin(BELL_PIN)
    seen: list[tuple[str, float]] = []

    def expect(look: Look, level: float) -> None:
        lamp = booth.lamp
        wait_until(lambda: lamp is not None and lamp.look is look, f"look {look}")
        wait_until(lambda: lamp_pin.state == level, f"{look} at {level}")
        seen.append((look.value, float(lamp_pin.state)))

    thread = threading.Thread(target=booth.run, name="booth", daemon=True)
    thread.start()
    try:
        wait_until(booth.ready.is_set, "ready")
        hook.hangup()
        expect(Look.IDLE, 1.0)
        hook.lift()
        expect(Look.PLAYING, 0.15)
        hook.hangup()
        expect(Look.IDLE, 1.0)
        booth.post(SyncFailed("stale", "metadata expired"))
        expect(Look.STALE, 0.0)  # between the blinks of the double blink
        booth.post(RingBell())
        wait_until(lambda: len(bell_pin.states) >= 3, "the bell")
    finally:
        booth.request_stop()
        thread.join(timeout=10)
    seen.append(("stopped", float(lamp_pin.state)))
    bells = [r for r in events.records if r["event"] == "bell"]
    levels = [float(s.state) for s in bell_pin.states]
    print(json.dumps({"lamp": seen, "bell_levels": levels, "bell_events": bells}))
    factory.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
