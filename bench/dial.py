"""Benchmarks of the dial: `scripts/dev.sh bench dial [--dials N] [--idle-seconds S]`.

On the paced PulseAudio path of `python -m bench` (tests/audio_rig.PulseSink):

1. dial digit -> the sound it asks for: the first sample above THRESHOLD at the sink after
   the `dial` event's t (a key's press edge; the moment a rotary dial is back at rest), p50 /
   p95, for a keypad and a rotary dial on mock pins driving an in-process Booth. Each trial
   lifts, lets a short clip play out, then dials in the silent pause: "2" (the next story,
   decoded ahead) or "3" (the newest story, decoded when asked). Goal: as lift -> sound;
2. idle CPU (% of one core) of `kiosk simulate --headless` children on the hook after a few
   lifts and dials, stream paused: with a keypad, with a rotary dial, and with no dial.

One human line per figure on stdout, then one JSON object with every figure as the last line.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.__main__ import GOALS, THRESHOLD, machine_load, percentiles, progress
from bench.common import BenchError, EventLog, cpu_seconds, run_main
from tests.audio_rig import PulseSink, Recorder
from tests.booth_runner import HeadlessBooth, write_config
from tests.clipmaker import make_set

TRIALS_PER_RECORDER = 20
IDLE_STOP_S = 1.0  # the children pause their stream this soon (the default is 10 s)


def measure_dials(
    sink: PulseSink, config_path: Path, trials: int, seed: int, failed: list[str]
) -> dict[str, list[float]]:
    """Dial -> sound in ms, by digit, for an in-process booth with the config's dial; trials
    that could not be timed are described in `failed`."""
    from gpiozero.pins.mock import MockFactory

    from kiosk.app import Booth
    from kiosk.config import load_config
    from kiosk.simulate import SimulatedDial, SimulatedHook, start_booth

    config = load_config(config_path)
    factory = MockFactory()
    hook = SimulatedHook(factory, config.hook)
    dial = SimulatedDial(factory, config.dial)
    events = EventLog()
    booth = Booth(config, [events], pin_factory=factory)
    rng = random.Random(seed)
    out: dict[str, list[float]] = {"2": [], "3": []}
    thread = start_booth(booth)
    rec: Recorder | None = None
    try:
        while not booth.ready.wait(0.1):
            if not thread.is_alive():
                raise BenchError("the booth stopped before it was ready")
        hook.hangup()
        dial.rest()
        time.sleep(0.5)
        for i in range(trials):
            if i % TRIALS_PER_RECORDER == 0:
                if rec is not None:
                    rec.stop()
                rec = sink.record()
            assert rec is not None
            digit = "2" if i % 2 == 0 else "3"
            hook.lift()
            t_lift = float(events.wait("lift", i + 1)["t"])
            _played_out(events, t_lift)  # the first clip ended by itself: the pause is silent
            time.sleep(rng.uniform(0.1, 0.3))
            n0 = rec.sample_count()
            dial.dial(digit)
            t_dial = float(events.wait("dial", i + 1)["t"])
            time.sleep(0.25)
            rec.sync(0.05)
            x = rec.samples()[n0:]
            loud = np.flatnonzero(np.abs(x) > THRESHOLD)
            dialed = [e for e in events.named("dial") if e["t"] >= t_lift]
            if not loud.size:
                failed.append(f"trial {i + 1}: nothing heard after dialing {digit}")
            elif (ms := (rec.time_of_sample(n0 + int(loud[0])) - t_dial) * 1000) < 0:
                failed.append(
                    f"trial {i + 1}: sound {ms:.1f} ms before the digit (dial events this "
                    f"lift: {[e['digit'] for e in dialed]})"
                )
            else:
                out[digit].append(ms)
            hook.hangup()
            events.wait("hangup", i + 1)
            time.sleep(0.15)
            if (i + 1) % 20 == 0:
                progress(f"{i + 1}/{trials} dials")
    finally:
        if rec is not None:
            rec.stop()
        booth.request_stop()
        thread.join(timeout=10)
        factory.close()
    return out


def _played_out(events: EventLog, since: float, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(e.get("finished") for e in events.between("clip_end", since, 1e12)):
        if time.monotonic() > deadline:
            raise BenchError(f"no clip played to its end within {timeout} s of a lift")
        time.sleep(0.01)


def measure_idle(sink: PulseSink, config_path: Path, idle_s: float, dial: bool) -> float:
    """Idle CPU (% of one core) of a simulator child after 3 lifts (and dials)."""
    booth = HeadlessBooth(config_path, sink.env)
    try:
        for _ in range(3):
            booth.send("lift", "sleep 0.3", *(["dial 2"] if dial else []), "sleep 0.3", "hangup")
        booth.wait_for("hangup", 3, timeout=60)
        time.sleep(IDLE_STOP_S + 2.0)  # the fade, the rotation's save, the stream's pause
        stat = Path(f"/proc/{booth.proc.pid}/stat")
        cpu0, t0 = cpu_seconds(stat), time.monotonic()
        time.sleep(idle_s)
        cpu1, t1 = cpu_seconds(stat), time.monotonic()
        if booth.proc.poll() is not None:
            raise BenchError(f"the simulator exited early:\n{booth.stderr}")
    except BaseException:
        booth.close()
        raise
    booth.quit()
    return 100 * (cpu1 - cpu0) / (t1 - t0)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.dial", description=__doc__.split("\n")[0])
    p.add_argument("--dials", type=int, default=60, help="dials to time per dial kind (60)")
    p.add_argument("--idle-seconds", type=float, default=20.0, help="idle CPU window (20)")
    p.add_argument("--seed", type=int, default=1, help="random waits (1)")
    p.add_argument("--kinds", default="keypad,rotary", help="dial kinds to time (keypad,rotary)")
    args = p.parse_args(argv)
    if args.dials < 2 or args.idle_seconds <= 0:
        p.error("--dials must be >= 2 and --idle-seconds > 0")
    return args


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    make_set(tmp / "set", {"a.wav": 0.3, "b.wav": 0.3, "c.wav": 0.3, "d.wav": 0.3})

    def config(name: str, kind: str, idle_stop_s: float = 10.0) -> Path:
        folder = tmp / name
        folder.mkdir()
        return write_config(
            folder,
            tmp / "set",
            max_clips_per_lift=1000,
            clips__pause_s=30,
            audio__idle_stop_s=idle_stop_s,
            dial__kind=kind,
            dial__ask="false",
        )

    progress("starting PulseAudio")
    figures: dict[str, Any] = {}
    goal = GOALS["lift_to_sound_p95_ms"]
    with PulseSink(tmp) as sink:
        if "sounddevice" in sys.modules:
            raise BenchError("sounddevice was imported before ALSA was pointed at the sink")
        os.environ.update(sink.env)
        print(f"machine at the start: {machine_load()}", flush=True)
        for kind in args.kinds.split(","):
            progress(f"{args.dials} dials on a {kind}")
            failed: list[str] = []
            by_digit = measure_dials(
                sink, config(f"inproc-{kind}", kind), args.dials, args.seed, failed
            )
            every = by_digit["2"] + by_digit["3"]
            if not by_digit["2"] or not by_digit["3"]:
                raise BenchError(f"{kind}: too few dials timed: {failed[:3]}")
            figures[f"{kind}_dials_failed"] = len(failed)
            if failed:
                print(f"{kind}: {len(failed)} dials not timed: {failed[:3]}", flush=True)
            p50, p95 = percentiles(every)
            print(
                f"{kind}: dial digit -> sound at the sink, p50 / p95: {p50:.1f} / {p95:.1f} ms "
                f"over {len(every)} dials (goal p95 <= {goal:g} ms, as lift -> sound)",
                flush=True,
            )
            for digit, what in (("2", "next story, decoded ahead"), ("3", "newest, decoded")):
                d50, d95 = percentiles(by_digit[digit])
                print(f"  {digit} ({what}): {d50:.1f} / {d95:.1f} ms", flush=True)
                figures[f"{kind}_dial{digit}_to_sound_p95_ms"] = round(d95, 1)
            figures[f"{kind}_dial_to_sound_p50_ms"] = round(p50, 1)
            figures[f"{kind}_dial_to_sound_p95_ms"] = round(p95, 1)
            figures[f"{kind}_dial_to_sound_ok"] = p95 <= goal
        idle_goal = GOALS["idle_cpu_percent"]
        for kind in ("keypad", "rotary", "none"):
            progress(f"simulator child with dial.kind {kind}: {args.idle_seconds:g} s idle")
            path = config(f"idle-{kind}", kind, IDLE_STOP_S)
            cpu = measure_idle(sink, path, args.idle_seconds, dial=kind != "none")
            print(
                f"idle CPU, dial.kind {kind}, stream paused: {cpu:.2f} % of one core over "
                f"{args.idle_seconds:g} s (goal <= {idle_goal:g} %)",
                flush=True,
            )
            figures[f"idle_cpu_{kind}_percent"] = round(cpu, 3)
        figures["idle_cpu_keypad_ok"] = figures["idle_cpu_keypad_percent"] <= idle_goal
        print(f"machine at the end: {machine_load()}", flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_main("bench.dial", lambda tmp: run(args, tmp))


if __name__ == "__main__":
    sys.exit(main())
