"""The dial step: "Dial 5", then the digit read, through the same classes the daemon uses.

A rotary dial's edges go through the daemon's PulseDecoder; a keypad is scanned by its own
thread. Any other digit than 5 points at the wiring (a keypad's rows or columns in the wrong
order; a rotary's contacts swapped or `pulse_active` reversed); nothing at all, at the pins.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from typing import Any

from gpiozero import GPIOZeroError

from kiosk.config import DialConfig
from kiosk.dial.keypad import Keypad
from kiosk.dial.rotary import RotaryDial, decoder_for
from kiosk.events import Dialed, DialEdge
from kiosk.selftest.console import Console
from kiosk.selftest.report import Item, failed, passed, skipped

NAME = "dial"
DIGIT = "5"


def check_dial(
    config: DialConfig,
    console: Console,
    timeout_s: float,
    pin_factory: Any = None,
    clock: Callable[[], float] = time.monotonic,
) -> Item:
    """Ask for a 5 and report the digit read (PASS only for a 5)."""
    if config.kind == "none":
        return skipped(NAME, "no dial (dial.kind: none)")
    pins = _pins(config)
    posted: queue.SimpleQueue[object] = queue.SimpleQueue()
    try:
        dial: RotaryDial | Keypad = (
            RotaryDial(config, posted.put, pin_factory, clock)
            if config.kind == "rotary"
            else Keypad(config, posted.put, pin_factory, clock)
        )
    except (GPIOZeroError, OSError, RuntimeError) as e:
        return failed(
            NAME,
            f"cannot open {pins}: {e}",
            "run this on the booth's Pi with the daemon stopped (sudo systemctl stop kiosk)",
        )
    try:
        console.say(f"Dial {DIGIT} (waiting up to {timeout_s:g} s)...")
        digit, edges = _read_digit(config, posted, timeout_s, clock)
    finally:
        dial.close()
    if digit is None:
        if edges and config.kind == "rotary" and config.off_normal_pin is not None:
            return failed(
                NAME,
                f"pulses seen on GPIO{config.pulse_pin} but no digit",
                f"check the off-normal contact on GPIO{config.off_normal_pin}, or set "
                "dial.off_normal_pin: null if the dial has none",
            )
        return failed(
            NAME, f"nothing read on {pins} within {timeout_s:g} s", f"check the wiring of {pins}"
        )
    if digit != DIGIT:
        fix = (
            "check the order of dial.rows (1-2-3 first) and dial.columns (1-4-7-* first)"
            if config.kind == "keypad"
            else "check dial.pulse_active and that the pulse and off-normal wires are not swapped"
        )
        return failed(NAME, f"read {digit}, not {DIGIT} ({config.kind} on {pins})", fix)
    return passed(NAME, f"read {digit} from the {config.kind} dial on {pins}")


def _pins(config: DialConfig) -> str:
    if config.kind == "keypad":
        rows = ",".join(map(str, config.rows))
        return f"keypad rows GPIO{rows} and columns GPIO{','.join(map(str, config.columns))}"
    off = config.off_normal_pin
    return f"GPIO{config.pulse_pin}" + (f" and GPIO{off}" if off is not None else "")


def _read_digit(
    config: DialConfig,
    posted: queue.SimpleQueue[object],
    timeout_s: float,
    clock: Callable[[], float],
) -> tuple[str | None, int]:
    """The first digit dialed within `timeout_s`, and how many raw edges came."""
    decoder = decoder_for(config)
    deadline = clock() + timeout_s
    edges = 0
    while (now := clock()) < deadline:
        due = decoder.deadline()
        wait = min(deadline, due) - now if due is not None else deadline - now
        try:
            event = posted.get(timeout=max(wait, 0.0))
        except queue.Empty:
            event = None
        digits: list[str] = decoder.settle(clock())
        if isinstance(event, Dialed):
            digits.append(event.digit)
        elif isinstance(event, DialEdge):
            edges += 1
            digits += decoder.edge(event.contact, event.active, event.t)
        if digits:
            return digits[0], edges
    return None, edges
