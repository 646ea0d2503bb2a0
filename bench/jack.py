"""The second bench row: the booth on JACK's dummy backend, a timer-paced card without PulseAudio.

`python -m bench --jack` adds it. jackd (Debian's jackd2) runs `-d dummy` with a period of one
booth block and realtime scheduling (`-R`, as JACK runs on a Pi); PortAudio's JACK host API
plays into `system:playback_*`. The dummy card has no recording side, so the figures are
derived, not recorded: the moment the audio callback takes a lift's play (or a hang-up's
fade) plus JACK's playback latency for that port (what a card with two periods would add),
plus the fade for a hang-up. They say what the booth adds on a card with no PulseAudio buffer.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.common import BenchError, EventLog
from tests.audio_rig import stop_process

SERVER = "kiosk-bench"


class JackDummy:
    """jackd -d dummy on a private server name; `env` points PortAudio's JACK API at it."""

    def __init__(self, log: Path, rate: int, period: int) -> None:
        self.log = log
        self.rate = rate
        self.period = period
        self.env = {"JACK_DEFAULT_SERVER": SERVER, "JACK_NO_AUDIO_RESERVATION": "1"}
        self._proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return all(shutil.which(tool) for tool in ("jackd", "jack_wait", "jack_lsp"))

    def __enter__(self) -> JackDummy:
        cmd = ["jackd", "-R", "-n", SERVER, "-d", "dummy", f"-r{self.rate}", f"-p{self.period}"]
        with self.log.open("wb") as out:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=self._env()
            )
        wait = subprocess.run(
            ["jack_wait", "-w", "-t", "10", "-s", SERVER],
            env=self._env(),
            capture_output=True,
            timeout=20,
        )
        if wait.returncode != 0:
            self.close()
            raise BenchError(f"jackd did not start:\n{self.log.read_text(errors='replace')}")
        return self

    def _env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def playback_latency_frames(self) -> int:
        """JACK's latency from a process cycle to the card for system:playback_1."""
        out = subprocess.run(
            ["jack_lsp", "-l", "-s", SERVER, "system:playback_1"],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        m = re.search(r"playback latency = \[ (\d+)", out)
        if m is None:
            raise BenchError(f"jack_lsp gave no playback latency: {out!r}")
        return int(m.group(1))

    def close(self) -> None:
        if self._proc is not None:
            stop_process(self._proc)
            self._proc = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass
class JackFigures:
    pickup_ms: list[float] = field(default_factory=list)  # lift -> callback takes the clip
    stop_pickup_ms: list[float] = field(default_factory=list)  # hang-up -> fade starts
    latency_ms: float = 0.0  # JACK's playback latency
    fade_ms: float = 0.0
    underruns: int = 0
    callbacks: int = 0
    failed: int = 0


def measure_jack(args: argparse.Namespace, config_path: Path, log: Path) -> JackFigures:
    """`args.jack_lifts` lifts of an in-process booth playing to device "system" on JACK."""
    import sounddevice as sd

    from kiosk.config import load_config

    config = load_config(config_path)
    block = max(1, round(config.audio.rate * config.audio.block_ms / 1000))
    figures = JackFigures(fade_ms=config.audio.fade_ms)
    with JackDummy(log, config.audio.rate, block) as jack:
        os.environ.update(jack.env)
        sd._terminate()  # PortAudio lists JACK's devices only if the server runs at init
        sd._initialize()
        try:
            figures.latency_ms = jack.playback_latency_frames() / config.audio.rate * 1000
            _lifts(args, config, figures)
        finally:
            sd._terminate()  # before jackd goes: PortAudio asserts if its server vanished
    for key in jack.env:
        os.environ.pop(key, None)
    sd._initialize()
    return figures


def _lifts(args: argparse.Namespace, config: Any, figures: JackFigures) -> None:
    from gpiozero.pins.mock import MockFactory

    from bench.__main__ import GAP_S, HOLD_S, TimedMixer
    from kiosk.app import Booth
    from kiosk.simulate import SimulatedHook, start_booth

    pickups = TimedMixer.pickups
    factory = MockFactory()
    hook = SimulatedHook(factory, config.hook)
    events = EventLog()
    booth = Booth(config, [events], pin_factory=factory, mixer_factory=TimedMixer)
    thread = start_booth(booth)
    rng = random.Random(args.seed)
    try:
        if not booth.ready.wait(15):
            raise BenchError("the booth on JACK was not ready within 15 s")
        hook.hangup()
        time.sleep(0.5)
        stats = booth.mixer.stats
        underruns0, callbacks0 = stats.underruns, stats.callbacks
        for i in range(args.jack_lifts):
            time.sleep(rng.uniform(*GAP_S))
            pickups.clear()
            hook.lift()
            t_lift = float(events.wait("lift", i + 1)["t"])
            time.sleep(rng.uniform(*HOLD_S))
            hook.hangup()
            t_hang = float(events.wait("hangup", i + 1)["t"])
            time.sleep(0.05)  # the fade's callback
            play_at = next((p for p in pickups if t_lift <= p < t_hang), None)
            stop_at = next((p for p in pickups if p >= t_hang), None)
            if play_at is None or stop_at is None:
                figures.failed += 1
                continue
            figures.pickup_ms.append((play_at - t_lift) * 1000)
            figures.stop_pickup_ms.append((stop_at - t_hang) * 1000)
        figures.underruns = stats.underruns - underruns0
        figures.callbacks = stats.callbacks - callbacks0
    finally:
        booth.request_stop()
        thread.join(timeout=10)
        factory.close()
