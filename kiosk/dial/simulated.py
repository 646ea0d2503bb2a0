"""Dials made of gpiozero's mock pins, for the simulator and the tests: the real `RotaryDial`
and `Keypad` read them exactly as they read a booth's GPIO.

`pulse_train` writes down what a rotary dial's contacts do for one digit; `SimulatedRotary`
moves the mock pins through it, and `SimulatedKeypad` wires a 3x4 matrix: a held key joins its
row to its column, so a row driven low pulls that column's input low.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPin

from kiosk.config import DialConfig
from kiosk.dial.keypad import KEYS

# (time in s from the start, contact "pulse" | "off_normal", contact closed)
Step = tuple[float, str, bool]


def pulse_train(
    digit: str,
    pps: float = 10.0,
    break_share: float = 0.6,
    bounce: int = 0,
    bounce_s: float = 0.002,
    lead_s: float = 0.08,
) -> list[Step]:
    """One turn of the dial for `digit`: the off-normal contact closes, the pulse contact breaks
    N times (10 for "0") at `pps` with `break_share` of each period open, then the off-normal
    contact opens again. `bounce` extra flips in the `bounce_s` after every change."""
    n = 10 if digit == "0" else int(digit)
    period = 1 / pps
    steps: list[Step] = []

    def change(t: float, contact: str, closed: bool) -> None:
        for i in range(bounce):  # chatter: flip, flip back, ... ending where it started
            at = t + bounce_s * i / max(bounce, 1)
            steps.append((at, contact, closed if i % 2 == 0 else not closed))
        steps.append((t + (bounce_s if bounce else 0.0), contact, closed))

    change(0.0, "off_normal", True)
    t = lead_s
    for _ in range(n):
        change(t, "pulse", False)
        change(t + period * break_share, "pulse", True)
        t += period
    change(t + lead_s - period * (1 - break_share), "off_normal", False)
    return steps


class SimulatedRotary:
    """A rotary dial's two contacts on mock pins (pulse contact closed, dial at rest)."""

    def __init__(self, factory: MockFactory, config: DialConfig) -> None:
        self.config = config
        self.pins: dict[str, Any] = {"pulse": factory.pin(config.pulse_pin)}
        if config.off_normal_pin is not None:
            self.pins["off_normal"] = factory.pin(config.off_normal_pin)

    def set(self, contact: str, closed: bool) -> None:
        pin = self.pins.get(contact)
        if pin is None:
            return  # a dial wired without its off-normal contact
        # A closed contact pulls the pin to ground with a pull-up, to 3V3 with a pull-down.
        if closed != self.config.pull_up:
            pin.drive_high()
        else:
            pin.drive_low()

    def rest(self) -> None:
        self.set("pulse", True)
        self.set("off_normal", False)

    def play(
        self,
        steps: list[Step],
        at: Callable[[float], None] | None = None,
    ) -> None:
        """Move the pins through `steps`. `at(t)` is called before each step; by default it
        sleeps until `t` s after the first step (the simulator); tests move a manual clock."""
        if at is None:
            start = time.monotonic()

            def at(t: float) -> None:
                time.sleep(max(0.0, start + t - time.monotonic()))

        for t, contact, closed in steps:
            at(t)
            self.set(contact, closed)

    def dial(self, digit: str) -> None:
        """Dial one digit in real time at 10 pps (about 1.2 s for "0")."""
        self.play(pulse_train(digit))


class _RowPin(MockPin):  # type: ignore[misc]
    """A row's mock pin: every level it is driven to is passed on to the matrix."""

    def __init__(self, factory: Any, info: Any, matrix: SimulatedKeypad) -> None:
        super().__init__(factory, info)
        self.matrix = matrix

    def _change_state(self, value: bool) -> bool:
        changed = bool(super()._change_state(value))
        if changed and self.function == "output":
            self.matrix.update()
        return changed


class SimulatedKeypad:
    """A 3x4 matrix on mock pins; call before the `Keypad` opens the same pins."""

    def __init__(self, factory: MockFactory, config: DialConfig) -> None:
        self.held: set[tuple[int, int]] = set()
        self.columns: list[Any] = [factory.pin(p) for p in config.columns]
        self.rows: list[Any] = [factory.pin(p, pin_class=_RowPin, matrix=self) for p in config.rows]

    def update(self) -> None:
        for c, column in enumerate(self.columns):
            if column.function != "input":
                continue
            low = any(
                r < len(self.rows) and self.rows[r].function == "output" and not self.rows[r].state
                for r, col in self.held
                if col == c
            )
            if low:
                column.drive_low()
            else:
                column.drive_high()  # the pull-up

    def press(self, key: str) -> None:
        self.held.add(_where(key))
        self.update()

    def release(self, key: str) -> None:
        self.held.discard(_where(key))
        self.update()

    def dial(self, key: str, hold_s: float = 0.15) -> None:
        """Press `key`, hold it `hold_s` (real time), let go."""
        self.press(key)
        time.sleep(hold_s)
        self.release(key)


def _where(key: str) -> tuple[int, int]:
    for r, row in enumerate(KEYS):
        if key in row:
            return r, row.index(key)
    raise ValueError(f"no key {key!r} on a 3x4 keypad")
