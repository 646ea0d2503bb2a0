"""The optional bell: rung when a live call starts, to draw people in; never in quiet hours."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from kiosk.clips.schedule import in_dayparts
from kiosk.config import BellConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RingBell:
    """Post this to the Booth when a live call goes live: the main loop rings the bell."""


def may_ring(config: BellConfig, wall: dt.datetime) -> bool:
    """True outside every `quiet_hours` range (local wall time)."""
    return not in_dayparts(config.quiet_hours, wall)


class Bell:
    """A gpiozero DigitalOutputDevice (a relay or driver for the bell) on `bell.pin`."""

    def __init__(self, config: BellConfig, pin_factory: Any = None) -> None:
        from gpiozero import DigitalOutputDevice

        if config.pin is None:
            raise ValueError("bell.pin is not set")
        self.config = config
        self._device = DigitalOutputDevice(config.pin, pin_factory=pin_factory)
        self._rang_at: float | None = None

    def ring(self, wall: dt.datetime, now: float | None = None) -> bool:
        """Ring once for `ring_s` (gpiozero's own thread times it) unless in quiet hours or,
        given the monotonic `now`, within `min_interval_s` of the last ring.

        Returns whether it rang; never blocks.
        """
        if not may_ring(self.config, wall):
            log.info("bell: quiet hours (%s), not ringing", ", ".join(self.config.quiet_hours))
            return False
        if now is not None:
            if self._rang_at is not None and now - self._rang_at < self.config.min_interval_s:
                return False
            self._rang_at = now
        self.sound()
        return True

    def sound(self) -> None:
        """Ring once for `ring_s`, quiet hours or not (the self-test, with a person there)."""
        self._device.blink(on_time=self.config.ring_s, off_time=0, n=1)

    def close(self) -> None:
        self._device.close()
