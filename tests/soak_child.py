"""Soak the whole booth: thousands of bounced lift/hang-up cycles on a real audio stream.

Run it as a child process with the audio rig's environment, so that PortAudio initialises
with the rig's ALSA config when `sounddevice` is first imported:

    python -m tests.soak_child --workdir DIR [--cycles 2000] [--seed N]

It builds a real Booth (real PortAudio stream, a real gpiozero input on MockFactory pins,
a small set of short clips), drives the hook like a worn switch, and prints progress on
stderr and a JSON summary on the last stdout line (tests/integration/test_soak.py reads it).

Figures that are compared before/after (threads, fds, RSS) are taken after a warm-up, in the
same state both times: handset on the hook, mixer idle, `gc.collect()` just run. The child
keeps counters only, never a record per cycle, so its own bookkeeping does not grow.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import random
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, TextIO

from gpiozero.pins.mock import MockFactory

from kiosk.app import Booth
from kiosk.config import load_config
from kiosk.session import State
from kiosk.simulate import SimulatedHook
from kiosk.systemd import Notifier
from tests.booth_runner import write_config
from tests.clipmaker import make_set

DEFAULT_SEED = 20240611
CLIPS = {"a.wav": 0.3, "b.flac": 0.5, "c.ogg": 0.7, "d.wav": 1.0}

# Timing. The booth debounces with a 25 ms window that opens at the first edge of a bounce:
# edges inside it are chatter and at its end the pin is read again. So a phase (first edge of
# the lift to first edge of the hang-up, and back) must outlast the window to count as a real
# change: every phase here is >= 30 ms, and a bounce is over within ~12 ms of its first edge,
# so each window ends on a steady pin. Mean cycle ~69 ms: 2,000 cycles with the long holds
# and the checks below take ~2.5 min.
HOLD_S = (0.030, 0.042)
GAP_S = (0.030, 0.036)
# A worn switch: up to 4 extra away-and-back flips after the first edge, ~1 ms apart.
MAX_BOUNCES = 4
FLIP_S = (0.0003, 0.0015)
BOUNCE_BUDGET_S = 0.008  # no new flip pair starts after this (since the first edge)
# Now and then a lift lasts long enough for clips to finish (1 s at most), the pause and the
# next clip or the end tone: the paths short lifts never reach.
LONG_HOLD_EVERY = 400
LONG_HOLD_S = (1.1, 2.2)
# Every CHECK_EVERY cycles, a longer gap: check that the audio went quiet and still runs.
CHECK_EVERY = 100
QUIET_AFTER_S = 0.1  # after a hang-up edge the mixer must be idle by then...
QUIET_FOR_S = 0.1  # ...and stay idle this long, while the callback keeps running
KEEP = 20  # at most this many messages of each kind go into the summary


class Problems:
    """Exceptions in any thread, unraisable ones, ERROR log records and warnings."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.exceptions: list[str] = []
        self.error_logs: list[str] = []
        self.warnings: list[str] = []
        self.counts = {"exceptions": 0, "error_logs": 0, "warnings": 0}

    def add(self, kind: str, text: str) -> None:
        with self.lock:
            self.counts[kind] += 1
            found: list[str] = getattr(self, kind)
            if len(found) < KEEP:
                found.append(text)
        print(f"soak: {kind}: {text}", file=sys.stderr, flush=True)

    def install(self) -> None:
        threading.excepthook = self._thread_hook
        sys.unraisablehook = self._unraisable_hook
        warnings.showwarning = self._show_warning
        warnings.simplefilter("always")
        handler = _Collector(self)
        handler.setLevel(logging.WARNING)
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger().addHandler(handler)

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        name = args.thread.name if args.thread is not None else "?"
        self.add("exceptions", f"thread {name}: {args.exc_type.__name__}: {args.exc_value}")
        sys.__excepthook__(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)

    def _unraisable_hook(self, args: sys.UnraisableHookArgs) -> None:
        what = f"{args.exc_type.__name__}: {args.exc_value}"
        self.add("exceptions", f"unraisable in {args.object!r}: {what}")
        sys.__unraisablehook__(args)

    def _show_warning(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        self.add("warnings", f"{filename}:{lineno}: {category.__name__}: {message}")


class _Collector(logging.Handler):
    def __init__(self, problems: Problems) -> None:
        super().__init__()
        self.problems = problems

    def emit(self, record: logging.LogRecord) -> None:
        kind = "error_logs" if record.levelno >= logging.ERROR else "warnings"
        self.problems.add(kind, f"{record.name}: {record.getMessage()}")


class CountingSink:
    """Counts the booth's events and checks that lifts and hang-ups alternate."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.off_hook = False
        self.out_of_order = 0
        self.clips_finished = 0
        self.errors: list[dict[str, Any]] = []

    def publish(self, record: dict[str, Any]) -> None:
        event = str(record.get("event"))
        with self.lock:
            self.counts[event] = self.counts.get(event, 0) + 1
            if event in ("lift", "hangup"):
                lifted = event == "lift"
                if lifted == self.off_hook:
                    self.out_of_order += 1
                self.off_hook = lifted
            elif event == "clip_end" and record.get("finished"):
                self.clips_finished += 1
            elif event == "error" and len(self.errors) < KEEP:
                self.errors.append(record)

    def count(self, event: str) -> int:
        with self.lock:
            return self.counts.get(event, 0)


class WornSwitch:
    """Moves the mock hook pin with contact bounce after each edge, like a worn switch."""

    def __init__(self, hook: SimulatedHook, rng: random.Random, debounce_s: float) -> None:
        self.hook = hook
        self.rng = rng
        self.debounce_s = debounce_s
        self.max_span_s = 0.0
        self.flips = 0
        self.overlong = 0  # bounces that outlasted the debounce window (a harness problem)

    def move(self, off_hook: bool) -> float:
        """Flip to `off_hook`, bounce, end there; returns the monotonic time of the first edge."""
        rng, hook = self.rng, self.hook
        t0 = time.monotonic()
        hook.set(off_hook)
        for _ in range(rng.randint(0, MAX_BOUNCES)):
            if time.monotonic() - t0 > BOUNCE_BUDGET_S:
                break
            time.sleep(rng.uniform(*FLIP_S))
            hook.set(not off_hook)
            time.sleep(rng.uniform(*FLIP_S))
            hook.set(off_hook)
            self.flips += 2
        span = time.monotonic() - t0
        self.max_span_s = max(self.max_span_s, span)
        if span >= self.debounce_s:
            self.overlong += 1
        # MockPin keeps every state change in a list; drop it so it doesn't pass for a leak.
        hook.pin.clear_states()
        return t0


def sleep_until(deadline: float) -> None:
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(left)


def resources() -> dict[str, int]:
    """Threads (Python's and the kernel's, which include PortAudio's), open fds, RSS."""
    gc.collect()
    rss_kb = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    return {
        "threads": threading.active_count(),
        "tasks": len(os.listdir("/proc/self/task")),
        "fds": len(os.listdir("/proc/self/fd")),
        "rss_kb": rss_kb,
    }


class Soak:
    def __init__(self, booth: Booth, switch: WornSwitch, sink: CountingSink, seed: int) -> None:
        self.booth = booth
        self.switch = switch
        self.sink = sink
        self.rng = random.Random(seed)
        self.stuck: list[dict[str, Any]] = []
        self.long_holds = 0
        self.checks = 0

    def cycle(self, number: int) -> float:
        """One lift and hang-up; returns the time of the hang-up's first edge."""
        rng = self.rng
        lifted = self.switch.move(True)
        if number % LONG_HOLD_EVERY == LONG_HOLD_EVERY // 2:
            self.long_holds += 1
            hold = rng.uniform(*LONG_HOLD_S)
        else:
            hold = rng.uniform(*HOLD_S)
        sleep_until(lifted + hold)
        hung_up = self.switch.move(False)
        return hung_up

    def check_quiet(self, number: int, hung_up: float) -> dict[str, Any]:
        """After a hang-up: mixer idle within QUIET_AFTER_S, callback still running."""
        self.checks += 1
        stats = self.booth.mixer.stats
        sleep_until(hung_up + QUIET_AFTER_S)
        blocks, callbacks = stats.blocks_playing, stats.callbacks
        time.sleep(QUIET_FOR_S)
        blocks_grew = stats.blocks_playing - blocks
        callbacks_grew = stats.callbacks - callbacks
        session = self.booth.session
        playing = session.playing is not None
        result: dict[str, Any] = {
            "cycle": number,
            "blocks_playing_grew": blocks_grew,
            "callbacks_grew": callbacks_grew,
            "state": session.state.value,
            "playing": playing,
            # Quiet (the mixer renders nothing), alive (the callback runs), on the hook.
            "ok": blocks_grew == 0
            and not playing
            and callbacks_grew > 0
            and session.state is State.IDLE,
        }
        if not result["ok"] and len(self.stuck) < KEEP:
            self.stuck.append(result)
        return result

    def run(self, cycles: int, warmup: int) -> dict[str, Any]:
        out: dict[str, Any] = {"rss_trend_kb": []}
        started = time.monotonic()
        for number in range(1, cycles + 1):
            hung_up = self.cycle(number)
            if number in (warmup, cycles) or number % CHECK_EVERY == 0:
                last = self.check_quiet(number, hung_up)
                res = resources()
                out["rss_trend_kb"].append(res["rss_kb"])
                if number == warmup:
                    out["before"] = res
                    out["warmup_cycles"] = warmup
                if number == cycles:
                    out["after"] = res
                    out["final_check"] = last
                elapsed = time.monotonic() - started
                print(
                    f"soak: {number}/{cycles} cycles, {elapsed:.0f} s, lifts "
                    f"{self.sink.count('lift')}, rss {res['rss_kb']} kB, fds {res['fds']}, "
                    f"tasks {res['tasks']}",
                    file=sys.stderr,
                    flush=True,
                )
            else:
                sleep_until(hung_up + self.rng.uniform(*GAP_S))
        out["soak_s"] = round(time.monotonic() - started, 1)
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--workdir", type=Path, required=True, help="clips, state and config")
    parser.add_argument("--cycles", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=100, help="cycles before the baseline")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    cycles: int = args.cycles
    warmup: int = min(args.warmup, max(1, cycles // 2))
    print(f"soak: seed {args.seed}, {cycles} cycles", file=sys.stderr, flush=True)

    problems = Problems()
    problems.install()
    workdir: Path = args.workdir
    make_set(workdir / "set", CLIPS)
    config = load_config(
        write_config(workdir, workdir / "set", max_clips_per_lift=2, clips__pause_s=0.1)
    )
    debounce_s = config.hook.debounce_ms / 1000
    if min(HOLD_S[0], GAP_S[0]) < debounce_s + 0.004:
        aborted = f"hold and gap must outlast the {debounce_s * 1000:g} ms debounce window"
        print(json.dumps({"seed": args.seed, "aborted": aborted}), flush=True)
        return 2
    factory = MockFactory()
    hook = SimulatedHook(factory, config.hook)
    switch = WornSwitch(hook, random.Random(args.seed + 1), debounce_s)
    sink = CountingSink()
    booth = Booth(
        config, [sink], Notifier(environ={}), pin_factory=factory, rng=random.Random(args.seed)
    )
    started = time.monotonic()
    thread = threading.Thread(target=booth.run, name="booth", daemon=True)
    thread.start()
    summary: dict[str, Any] = {"seed": args.seed, "cycles_asked": cycles}
    code = 0
    try:
        while not booth.ready.wait(0.1):
            if not thread.is_alive() or time.monotonic() - started > 20:
                summary["aborted"] = "the booth never became ready"
                code = 2
                break
        else:
            hook.hangup()
            time.sleep(0.2)  # let the start-up settle (first clip decoded)
            soak = Soak(booth, switch, sink, args.seed)
            summary.update(soak.run(cycles, warmup))
            summary["stuck"] = soak.stuck
            summary["quiet_checks"] = soak.checks
            summary["long_holds"] = soak.long_holds
            summary["cycles"] = cycles
            summary["underruns"] = booth.mixer.stats.underruns
            summary["callbacks"] = booth.mixer.stats.callbacks
    finally:
        booth.request_stop()
        thread.join(timeout=10)
        factory.close()
    summary["booth_stopped"] = not thread.is_alive()
    summary["duration_s"] = round(time.monotonic() - started, 1)
    with sink.lock:
        summary["events"] = dict(sink.counts)
        summary["out_of_order"] = sink.out_of_order
        summary["clips_finished"] = sink.clips_finished
        summary["error_events"] = list(sink.errors)
    for key, event in (("lifts", "lift"), ("hangups", "hangup"), ("clip_starts", "clip_start")):
        summary[key] = summary["events"].get(event, 0)
    summary["clip_ends"] = summary["events"].get("clip_end", 0)
    summary["errors"] = summary["events"].get("error", 0)
    summary["bounce"] = {
        "flips": switch.flips,
        "max_span_ms": round(switch.max_span_s * 1000, 1),
        "overlong": switch.overlong,
    }
    with problems.lock:
        summary["problem_counts"] = dict(problems.counts)
        summary["exceptions"] = list(problems.exceptions)
        summary["error_logs"] = list(problems.error_logs)
        summary["warnings"] = list(problems.warnings)
    if "before" in summary and "after" in summary:
        growth = summary["after"]["rss_kb"] - summary["before"]["rss_kb"]
        summary["rss_growth_mb"] = round(growth / 1024, 2)
    print(json.dumps(summary, default=str), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
