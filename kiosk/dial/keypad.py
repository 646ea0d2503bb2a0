"""A 3x4 keypad matrix on 7 GPIO pins, scanned only when a key goes down.

At rest every row is driven low and the columns are inputs with pull-ups, so a pressed key
pulls its column low: that edge wakes the scanner thread, which at once drives one row low at
a time to find the key (if a bounce hid it, again after `debounce_s`), posts `Dialed`, then
checks every `poll_s` for the release (only while a key is held) and lets `debounce_s` of
release bounce pass. Between presses the thread sleeps on an Event: an idle booth pays
nothing for its keypad.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from gpiozero import DigitalInputDevice, DigitalOutputDevice

from kiosk.config import DialConfig
from kiosk.events import Dialed

log = logging.getLogger(__name__)

KEYS = ("123", "456", "789", "*0#")  # rows top to bottom, columns left to right
DEBOUNCE_S = 0.02
POLL_S = 0.03


class Keypad:
    """The matrix's pins and its scanner thread; `post` gets Dialed(key, "keypad", t)."""

    def __init__(
        self,
        config: DialConfig,
        post: Callable[[object], None],
        pin_factory: Any = None,
        clock: Callable[[], float] = time.monotonic,
        debounce_s: float = DEBOUNCE_S,
        poll_s: float = POLL_S,
    ) -> None:
        self._post = post
        self._clock = clock
        self._debounce_s = debounce_s
        self._poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pressed_at = 0.0
        self._rows: list[DigitalOutputDevice] = []
        self._columns: list[DigitalInputDevice] = []
        try:
            for pin in config.rows:
                # active_high False: "on" drives the row low, which a pressed key passes on.
                self._rows.append(
                    DigitalOutputDevice(
                        pin, active_high=False, initial_value=True, pin_factory=pin_factory
                    )
                )
            for pin in config.columns:
                # Always pulled up: the rows pull a pressed key's column low.
                column = DigitalInputDevice(
                    pin, pull_up=True, bounce_time=None, pin_factory=pin_factory
                )
                column.when_activated = self._edge
                self._columns.append(column)
        except Exception:
            self._close_pins()
            raise
        self._thread = threading.Thread(target=self._run, name="keypad", daemon=True)
        self._thread.start()

    def _edge(self) -> None:
        if not self._wake.is_set():
            self._pressed_at = self._clock()
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            key = self.scan()
            if key is None and not self._stop.wait(self._debounce_s):
                key = self.scan()  # the first look fell into a bounce
            if key is not None:
                self._post(Dialed(key, "keypad", self._pressed_at))
            while not self._stop.is_set():
                while self._held() and not self._stop.wait(self._poll_s):
                    pass
                if self._stop.wait(self._debounce_s) or not self._held():
                    break  # up, and stayed up through the release bounce
            self._wake.clear()  # edges while scanning or held were ours

    def _held(self) -> bool:
        return any(c.is_active for c in self._columns)

    def scan(self) -> str | None:
        """The key held now (the first found), or None; leaves every row driven low."""
        found = None
        try:
            for r, _ in enumerate(self._rows):
                for i, row in enumerate(self._rows):
                    row.value = i == r
                for c, column in enumerate(self._columns):
                    if found is None and column.is_active:
                        found = KEYS[r][c]
        finally:
            for row in self._rows:
                row.on()
        return found

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self._close_pins()

    def _close_pins(self) -> None:
        for device in (*self._columns, *self._rows):
            device.close()
        self._columns.clear()
        self._rows.clear()
