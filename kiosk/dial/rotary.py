"""The rotary dial's two contacts as gpiozero inputs; callbacks only post raw `DialEdge`s.

The main loop owns the `PulseDecoder` (kiosk/dial/pulses.py) that turns them into digits, as
it owns the hook's debouncer. DigitalInputDevices, as for the hook: no hold thread, no
`bounce_time` (the decoder filters bounce itself).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from gpiozero import DigitalInputDevice

from kiosk.config import DialConfig
from kiosk.dial.pulses import PulseDecoder
from kiosk.events import DialEdge


class RotaryDial:
    """Posts DialEdge("pulse" | "off_normal", active, t) on every raw edge."""

    def __init__(
        self,
        config: DialConfig,
        post: Callable[[object], None],
        pin_factory: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._post = post
        self._clock = clock
        self._inputs: list[DigitalInputDevice] = []
        try:
            self._watch("pulse", config.pulse_pin, config.pulse_active, config, pin_factory)
            if config.off_normal_pin is not None:
                self._watch(
                    "off_normal",
                    config.off_normal_pin,
                    config.off_normal_active,
                    config,
                    pin_factory,
                )
        except Exception:
            self.close()
            raise

    def _watch(
        self,
        contact: Literal["pulse", "off_normal"],
        pin: int,
        active: str,
        config: DialConfig,
        pin_factory: Any,
    ) -> None:
        device = DigitalInputDevice(
            pin, pull_up=config.pull_up, bounce_time=None, pin_factory=pin_factory
        )
        self._inputs.append(device)
        closed_is_active = active == "closed"

        def edge() -> None:
            # is_active means "contact closed" with either pull (as for the hook switch).
            self._post(DialEdge(contact, bool(device.is_active) == closed_is_active, self._clock()))

        device.when_activated = edge
        device.when_deactivated = edge

    def close(self) -> None:
        for device in self._inputs:
            device.close()
        self._inputs.clear()


def decoder_for(config: DialConfig) -> PulseDecoder:
    return PulseDecoder(
        config.debounce_ms / 1000, config.gap_ms / 1000, config.off_normal_pin is not None
    )
