"""The desktop simulator: the real daemon on gpiozero's mock pins, driven by keys or stdin."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

import sounddevice as sd
from gpiozero.pins.mock import MockFactory

from kiosk.app import Booth
from kiosk.audio.output import find_device
from kiosk.audio.virtual import VirtualReceiver
from kiosk.config import Config, DialConfig, HookConfig
from kiosk.dial.simulated import SimulatedKeypad, SimulatedRotary
from kiosk.errors import AudioError


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


class SimulatedDial:
    """The configured dial on mock pins: `dial("3")` turns the rotary dial (10 pps, about
    0.4 s for 3) or presses the key, blocking until done. Create before the booth opens the
    pins; call `rest()` once it has (opening an input applies its pull)."""

    def __init__(self, factory: MockFactory, config: DialConfig) -> None:
        self._lock = threading.Lock()  # one finger on the dial
        self._rotary = SimulatedRotary(factory, config) if config.kind == "rotary" else None
        self._keypad = SimulatedKeypad(factory, config) if config.kind == "keypad" else None

    def rest(self) -> None:
        if self._rotary is not None:
            self._rotary.rest()

    def dial(self, digits: str) -> None:
        with self._lock:
            for digit in digits:
                if self._rotary is not None and digit.isdigit():
                    self._rotary.dial(digit)
                    time.sleep(0.3)  # the finger moves to the next hole
                elif self._keypad is not None:
                    self._keypad.dial(digit)
                    time.sleep(0.05)


def virtual_receiver(config: Config, say: TextIO = sys.stderr) -> VirtualReceiver | None:
    """Stand a private PulseAudio sink in for a missing sound card; None when there is one.

    What the receiver plays is written to `<state_dir>/receiver.wav`. Call before the booth
    opens its stream: PortAudio is re-initialised to see the new ALSA "default".
    """
    try:
        find_device(config.audio.device, list(sd.query_devices()))
        return None
    except AudioError as e:
        problem = str(e)
    if not VirtualReceiver.available():
        print(
            f"no sound card ({problem}) and no PulseAudio to stand in: the booth runs, silent "
            "(apt-get install pulseaudio pulseaudio-utils for a virtual receiver)",
            file=say,
        )
        return None
    state_dir = Path(config.state_dir)
    receiver = VirtualReceiver(state_dir / "receiver").start()
    os.environ.update(receiver.env)
    sd._terminate()
    sd._initialize()
    wav = state_dir / "receiver.wav"
    receiver.record_wav(wav)
    print(
        f"no sound card here ({problem}): playing into a virtual receiver; what the handset "
        f"would have played is written to {wav}",
        file=say,
    )
    return receiver


def with_virtual_device(config: Config) -> Config:
    """The config whose audio device is the virtual receiver's ALSA "default"."""
    return dataclasses.replace(config, audio=dataclasses.replace(config.audio, device="default"))


def start_booth(booth: Booth) -> threading.Thread:
    """Run the booth on its own thread (the simulator's main thread owns stdin or the window)."""
    thread = threading.Thread(target=booth.run, name="booth", daemon=True)
    thread.start()
    return thread


def run_headless(
    booth: Booth,
    hook: SimulatedHook,
    lines: Iterable[str],
    out: TextIO = sys.stdout,
    dial: SimulatedDial | None = None,
) -> int:
    """Execute `lift`, `hangup`, `dial DIGITS`, `sleep SECONDS`, `quit` lines; returns the exit
    code."""
    thread = start_booth(booth)
    try:
        # The loop, not READY: without an audio device the booth still takes lifts and quit.
        while not booth.running.wait(0.1):
            if not thread.is_alive():
                return 1
        hook.hangup()
        if dial is not None:
            dial.rest()
        for number, raw in enumerate(lines, 1):
            words = raw.split()
            if not words or words[0].startswith("#"):
                continue
            command, args = words[0], words[1:]
            if command == "lift" and not args:
                hook.lift()
            elif command == "hangup" and not args:
                hook.hangup()
            elif command == "dial" and dial is not None and len(args) == 1 and _digits(args[0]):
                dial.dial(args[0])
            elif command == "sleep" and len(args) == 1 and _seconds(args[0]) is not None:
                time.sleep(_seconds(args[0]) or 0.0)
            elif command == "quit":
                break
            else:
                problem = f"stdin:{number}: unknown command {raw.strip()!r}"
                problem += " (expected lift, hangup, dial DIGITS, sleep SECONDS or quit)"
                booth.post_report({"event": "error", "t": time.monotonic(), "message": problem})
        return 0
    finally:
        booth.request_stop()
        thread.join(timeout=10)
        out.flush()


def _digits(text: str) -> bool:
    return 0 < len(text) <= 32 and all(c in "0123456789*#" for c in text)


def _seconds(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 <= value <= 86400 else None


def dump(record: dict[str, Any]) -> str:
    return json.dumps(record)
