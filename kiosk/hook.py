"""The hook switch: a gpiozero input whose callbacks only post raw edges, and the debouncer.

We do not use gpiozero's `bounce_time`: backends disagree on it (lgpio's glitch filter delays
the first edge; the mock factory ignores it). Instead the first edge that changes the state acts
at once, later edges within `debounce_s` are chatter, and when the window closes the real pin
level is read again so a quick genuine flip is never lost.

A `DigitalInputDevice`, not a `Button`: Button's hold thread wakes every 100 ms for
`when_held`, which the booth never uses (10 wake-ups a second on an idle booth).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gpiozero import DigitalInputDevice

from kiosk.config import HookConfig
from kiosk.events import HookEdge


class HookSwitch:
    """Posts HookEdge(off_hook, t) on every raw edge; never blocks in a callback."""

    def __init__(
        self,
        config: HookConfig,
        post: Callable[[object], None],
        pin_factory: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._closed_means_lifted = config.active == "closed"
        self._post = post
        self._clock = clock
        self._input = DigitalInputDevice(
            config.pin, pull_up=config.pull_up, bounce_time=None, pin_factory=pin_factory
        )
        self._input.when_activated = self._edge
        self._input.when_deactivated = self._edge

    def off_hook(self) -> bool:
        """The switch's level now: True if the handset is lifted."""
        return bool(self._input.is_active) == self._closed_means_lifted

    def _edge(self) -> None:
        self._post(HookEdge(self.off_hook(), self._clock()))

    def close(self) -> None:
        self._input.close()


@dataclass
class Debouncer:
    """Turns raw edges into clean lifts and hang-ups. Pure logic; the main loop owns it."""

    debounce_s: float
    off_hook: bool = False
    settle_at: float | None = None
    read_at: float = -math.inf  # when settle() last read the pin

    def edge(self, level: bool, t: float) -> bool | None:
        """Feed one raw edge; returns the new state if it changed now, else None."""
        if self.settle_at is not None or t <= self.read_at:
            # Chatter inside the window, or an edge older than the level settle() read since
            # (a busy main loop may see queued bounce edges only after the window closed).
            return None
        return self._change(level, t)

    def settle(self, level: bool, t: float) -> bool | None:
        """At `settle_at`, compare with the pin's real `level`; a difference is a new edge."""
        self.settle_at = None
        self.read_at = t
        return self._change(level, t)

    def _change(self, level: bool, t: float) -> bool | None:
        if level == self.off_hook:
            return None
        self.off_hook = level
        self.settle_at = t + self.debounce_s
        return level
