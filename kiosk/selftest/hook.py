"""The hook switch step: "lift the handset … now hang it up", and its polarity.

The technician is told the handset is on the hook; the pin is read, then we wait for the lift
and the hang-up. A switch that reads "lifted" at the start and flips on the lift is reversed:
the fix is the other `hook.active`. No change within the timeout points at the wiring.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from typing import Any

from gpiozero import GPIOZeroError

from kiosk.config import HookConfig
from kiosk.hook import HookSwitch
from kiosk.selftest.console import Console
from kiosk.selftest.report import Item, failed, passed

NAME = "hook"


def check_hook(
    config: HookConfig,
    console: Console,
    timeout_s: float,
    pin_factory: Any = None,
    clock: Callable[[], float] = time.monotonic,
) -> Item:
    """Watch the real switch (gpiozero input via HookSwitch) through one lift and hang-up."""
    edges: queue.SimpleQueue[object] = queue.SimpleQueue()
    try:
        switch = HookSwitch(config, edges.put, pin_factory, clock)
    except (GPIOZeroError, OSError, RuntimeError) as e:
        return failed(
            NAME,
            f"cannot open GPIO{config.pin}: {e}",
            "run this on the booth's Pi with the daemon stopped (sudo systemctl stop kiosk)",
        )
    wiring = f"check the wiring from GPIO{config.pin} to the hook switch and on to ground"
    try:
        console.say("The handset should be on the hook now.")
        at_start = switch.off_hook()
        console.say(f"Lift the handset (waiting up to {timeout_s:g} s)...")
        lifted = _wait_change(switch, edges, at_start, timeout_s, config.debounce_ms, clock)
        if lifted is None:
            return failed(NAME, f"no change on GPIO{config.pin} within {timeout_s:g} s", wiring)
        console.say(f"Now hang it up (waiting up to {timeout_s:g} s)...")
        hung_up = _wait_change(switch, edges, lifted, timeout_s, config.debounce_ms, clock)
        if hung_up is None:
            return failed(
                NAME,
                f"the lift was seen but no hang-up within {timeout_s:g} s",
                f"{wiring}; a switch stuck in one position needs replacing",
            )
    finally:
        switch.close()
    if at_start:
        other = "open" if config.active == "closed" else "closed"
        return failed(
            NAME,
            f"reversed: GPIO{config.pin} reads 'lifted' while the handset is on the hook",
            f"set hook.active: {other} in /etc/kiosk/kiosk.yaml",
        )
    return passed(NAME, f"lift and hang-up seen on GPIO{config.pin} (hook.active: {config.active})")


def _wait_change(
    switch: HookSwitch,
    edges: queue.SimpleQueue[object],
    level: bool,
    timeout_s: float,
    debounce_ms: float,
    clock: Callable[[], float],
) -> bool | None:
    """The new level once the switch settles away from `level`; None after `timeout_s`."""
    deadline = clock() + timeout_s
    while True:
        left = deadline - clock()
        if left <= 0:
            return None
        try:
            edges.get(timeout=left)
        except queue.Empty:
            return None
        time.sleep(debounce_ms / 1000)  # let the contact stop bouncing, then read it
        while not edges.empty():
            edges.get_nowait()
        now = switch.off_hook()
        if now != level:
            return now
