"""The status lamp: what the booth is doing, as a light pattern on an optional LED or PWMLED.

The main loop decides the `Look` (a pure function of its state) and calls `StatusLamp.show`,
which never blocks: the lamp's own thread steps through the pattern and writes the pin only
when the level changes (a steady look costs no wake-ups).
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kiosk.config import StatusLedConfig

log = logging.getLogger(__name__)


class Look(StrEnum):
    STARTING = "starting"
    IDLE = "idle"  # on the hook, audio and content healthy
    PLAYING = "playing"  # someone has the handset off the hook
    STALE = "stale"  # content sync stale or failing: still playing the last good set
    LIVE = "live"  # on the hook while a live call is there to hear (the hub relay)
    ERROR = "error"  # the audio device is lost or not there yet
    OFF = "off"  # the daemon has stopped


def look_for(
    ready: bool, audio_ok: bool, off_hook: bool, sync_state: str, live_call: bool = False
) -> Look:
    """The lamp's look; the more urgent wins: error, starting, playing, live, stale, idle."""
    if not audio_ok:
        return Look.ERROR
    if not ready:
        return Look.STARTING
    if off_hook:
        return Look.PLAYING
    if live_call:
        return Look.LIVE
    if sync_state in ("stale", "error"):
        return Look.STALE
    return Look.IDLE


@dataclass(frozen=True)
class Pattern:
    """Steps of (brightness 0-1, seconds), repeated; a single step is held for good."""

    steps: tuple[tuple[float, float], ...]


STEADY = math.inf
PATTERNS: dict[Look, Pattern] = {
    Look.STARTING: Pattern(((1, 0.25), (0, 0.25))),  # even blink, 2 per second
    Look.IDLE: Pattern(((1, STEADY),)),  # solid on
    Look.PLAYING: Pattern(((1, 1.0), (0, 1.0))),  # slow blink, 1 s on, 1 s off
    Look.STALE: Pattern(((1, 0.15), (0, 0.15), (1, 0.15), (0, 1.55))),  # double blink
    Look.ERROR: Pattern(((1, 0.06), (0, 0.06))),  # rapid flicker, 8 per second
    Look.LIVE: Pattern(((1, 0.4), (0, 0.1), (1, 0.4), (0, 0.6))),  # "ring-ring": lift me now
    Look.OFF: Pattern(((0, STEADY),)),
}
# A PWMLED shows "playing" as a steady dim glow instead of the slow blink.
PWM_PATTERNS = {**PATTERNS, Look.PLAYING: Pattern(((0.15, STEADY),))}


def pattern_for(look: Look, pwm: bool) -> Pattern:
    return (PWM_PATTERNS if pwm else PATTERNS)[look]


class StatusLamp:
    """A gpiozero LED or PWMLED stepped by one daemon thread; `show` is for the main loop."""

    def __init__(self, config: StatusLedConfig, pin_factory: Any = None) -> None:
        from gpiozero import LED, PWMLED

        if config.pin is None:
            raise ValueError("status_led.pin is not set")
        self.pwm = config.pwm
        device_class = PWMLED if config.pwm else LED
        self._device = device_class(config.pin, pin_factory=pin_factory)
        self.look = Look.STARTING
        self._pattern: Pattern | None = pattern_for(self.look, self.pwm)
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="status-lamp", daemon=True)
        self._thread.start()

    def show(self, look: Look) -> None:
        """Switch to `look`'s pattern (no-op if shown already); never blocks."""
        if look is self.look:
            return
        log.debug("lamp %s -> %s", self.look, look)
        self.look = look
        self._pattern = pattern_for(look, self.pwm)
        self._wake.set()

    def close(self) -> None:
        """Turn the lamp off and release the pin."""
        self._pattern = None
        self._wake.set()
        self._thread.join(timeout=2)
        self._device.off()
        self._device.close()

    def _run(self) -> None:
        while True:
            self._wake.clear()
            pattern = self._pattern
            if pattern is None:
                return
            for level, seconds in itertools.cycle(pattern.steps):
                if self._device.value != level:
                    self._device.value = level
                if self._wake.wait(None if seconds == STEADY else seconds):
                    break
