"""Benchmarks of the booth on the paced PulseAudio path: `scripts/dev.sh bench [--lifts N]`.

Everything plays through PortAudio's ALSA device "default" into a private PulseAudio daemon
with a clocked null sink (tests/audio_rig.PulseSink). Its monitor is recorded with time stamps
on the same CLOCK_MONOTONIC as the booth's events, so "when did this sample play" is an upper
bound within a few ms (see tests.audio_rig.Recorder).

Figures, in the order they are measured:

1. lift -> first sample above THRESHOLD at the sink (p50, p95), an in-process Booth on a mock
   pin, lifts at random moments, each held 150-300 ms, 50-250 ms apart (the stream runs);
2. hang-up -> last sample above THRESHOLD (the end of the fade-out), the same lifts;
3. underruns the mixer counted during those lifts (and dropouts seen at the sink);
4. "cold" lifts: the same, each after the booth paused its stream (`audio.idle_stop_s`), so
   the lift has to start it again;
5. idle CPU (% of one core) of a `kiosk simulate --headless` child nobody lifts, from
   /proc/PID/stat, once its stream is paused (and, with --open-idle-seconds, with it running);
6. that child's resident memory (VmRSS, VmHWM) after a few lifts;
7. start -> READY=1: `kiosk run` children on a notify socket, median of several runs;
8. the second row (bench/jack.py): lifts on JACK's dummy backend, a paced card without
   PulseAudio.

During each lift series `aplay` plays silence into the same sink with the same buffer and
period (`--no-control` skips it): its underruns are the machine's, to compare with the booth's.

The machine's load (load averages, CPU pressure from /proc/pressure/cpu) is printed at the
start and the end: on a shared machine the tail and the underruns follow it.

One human line per figure on stdout, then one JSON object with every figure as the last line.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from bench.common import BenchError, EventLog, cpu_seconds, run_main
from kiosk.audio.mixer import Mixer
from kiosk.config import AudioConfig
from tests.audio_rig import RATE, PulseSink, Recorder
from tests.booth_runner import KIOSK, HeadlessBooth, write_config
from tests.clipmaker import make_set

# The clips start with a 3 ms raised-cosine ramp: a low threshold finds their first sample.
THRESHOLD = 1e-4
# Silence after the last loud sample that proves the fade-out has reached the recording.
SILENT_TAIL_S = 0.04
# A silent run this long inside a playing clip is a dropout (the clips are dense noise).
DROPOUT_S = 0.005
# A fresh recorder every so many lifts keeps `Recorder.samples()` (a full copy) cheap, so the
# bench's own GIL use stays small next to the booth's audio callback.
LIFTS_PER_RECORDER = 20
HOLD_S = (0.15, 0.30)
GAP_S = (0.05, 0.25)

# The cold series' booth pauses its stream this soon after a hang-up's fade.
COLD_IDLE_STOP_S = 0.2

GOALS = {
    "lift_to_sound_p95_ms": 25.0,
    "hangup_to_silence_p95_ms": 20.0,
    "idle_cpu_percent": 0.5,
    "rss_mb": 60.0,
    "start_to_ready_s": 1.5,
}


def progress(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def sleep_until(t: float) -> None:
    left = t - time.monotonic()
    if left > 0:
        time.sleep(left)


def percentiles(values: list[float]) -> tuple[float, float]:
    p50, p95 = np.percentile(np.asarray(values, dtype=np.float64), [50, 95])
    return float(p50), float(p95)


# --------------------------------------------------------------------------- event capture


# --------------------------------------------------------------------------- 1-3: lifts


@dataclass
class LiftFigures:
    lift_ms: list[float] = field(default_factory=list)
    hangup_ms: list[float] = field(default_factory=list)
    start_event_ms: list[float] = field(default_factory=list)  # lift edge -> clip_start event
    pickup_ms: list[float] = field(default_factory=list)  # lift edge -> callback that plays
    buffer_ms: list[float] = field(default_factory=list)  # that callback -> sound at the sink
    stop_pickup_ms: list[float] = field(default_factory=list)  # hang-up -> callback that fades
    failed: list[str] = field(default_factory=list)
    waited: int = 0  # lifts whose clip was not decoded yet (the booth had to wait)
    dropouts: int = 0
    underruns: int = 0
    underrun_lifts: list[int] = field(default_factory=list)  # 1-based, one entry per underrun
    recorder_lifts: list[int] = field(default_factory=list)  # lifts that began a new recorder
    callbacks: int = 0
    portaudio_latency_ms: float | None = None
    blocksize: int | None = None
    pulse: dict[str, float] = field(default_factory=dict)
    control: tuple[int, float] | None = None  # aplay's (underruns, seconds) meanwhile


def _pulse_latencies(sink: PulseSink) -> dict[str, float]:
    """PulseAudio's view of the booth's stream: its buffer and the null sink's latency (ms)."""
    out: dict[str, float] = {}
    patterns = {
        "pulse_buffer_latency_ms": r"Buffer Latency:\s*([\d.]+)\s*usec",
        "pulse_sink_latency_ms": r"Sink Latency:\s*([\d.]+)\s*usec",
    }
    try:
        text = sink.pactl("list", "sink-inputs")
    except (RuntimeError, subprocess.TimeoutExpired):
        return out
    for key, pattern in patterns.items():
        m = re.search(pattern, text)
        if m:
            out[key] = float(m.group(1)) / 1000
    return out


def _settle(
    rec: Recorder, n0: int, t_hang: float, first_wait: float, timeout: float = 3.0
) -> npt.NDArray[np.float32]:
    """Wait until the recording from `n0` shows the clip and then SILENT_TAIL_S of silence
    after the hang-up; returns those samples."""
    tail = int(SILENT_TAIL_S * RATE)
    deadline = time.monotonic() + first_wait + timeout
    sleep_until(t_hang + first_wait)
    while True:
        rec.sync(0.01)
        x = rec.samples()[n0:]
        loud = np.flatnonzero(np.abs(x) > THRESHOLD)
        if (
            loud.size
            and x.size - 1 - int(loud[-1]) >= tail
            and rec.time_of_sample(n0 + int(loud[-1])) >= t_hang
        ):
            return x
        if time.monotonic() > deadline:
            heard = "nothing" if not loud.size else f"{loud.size} loud samples"
            raise BenchError(f"no silence after the hang-up within {timeout} s ({heard})")
        time.sleep(0.02)


def machine_load() -> str:
    """Load averages and CPU pressure ("some": share of time a runnable task waited)."""
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        pressure = ", CPU pressure " + " ".join(some.split()[1:3])
    except (OSError, IndexError):
        pressure = ""
    return f"load averages {load} on {os.cpu_count()} cores{pressure}"


class TimedMixer(Mixer):
    """Notes when the audio callback takes a play or stop command (one clock read)."""

    pickups: ClassVar[list[float]] = []

    def render(self, out: npt.NDArray[np.float32], underrun: bool = False) -> None:
        if self._commands:
            self.pickups.append(time.monotonic())
        super().render(out, underrun)


class ControlClient:
    """aplay writing silence into the same sink with the booth's buffer and period.

    A C client with none of our code on the same path: its underruns are the machine's (the
    scheduler kept a runnable audio thread waiting), not the booth's.
    """

    def __init__(self, sink: PulseSink, block_ms: float, latency_ms: float, log: Path) -> None:
        self.log = log
        cmd = ["aplay", "-q", "-D", "default", "-t", "raw", "-f", "FLOAT_LE", f"-r{RATE}", "-c1"]
        cmd += [f"--buffer-time={round(latency_ms * 1000)}", "/dev/zero"]
        cmd.insert(-1, f"--period-time={round(block_ms * 1000)}")
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=sink.client_env(),
            )
        self.started = time.monotonic()

    def stop(self) -> tuple[int, float]:
        """(underruns aplay reported, seconds it ran)."""
        seconds = time.monotonic() - self.started
        _stop_child(self.proc)
        return self.log.read_text(errors="replace").count("underrun"), seconds


def measure_lifts(
    args: argparse.Namespace, sink: PulseSink, config_path: Path, lifts: int, cold: bool = False
) -> LiftFigures:
    """`lifts` timed lifts; `cold`: each waits until the booth has paused its stream."""
    # Imported here: sounddevice initialises PortAudio (and reads the ALSA config) on import,
    # which must happen after os.environ points ALSA at the PulseSink.
    from gpiozero.pins.mock import MockFactory

    from kiosk.app import Booth
    from kiosk.config import load_config
    from kiosk.simulate import SimulatedHook, start_booth

    pickups = TimedMixer.pickups
    config = load_config(config_path)
    factory = MockFactory()
    hook = SimulatedHook(factory, config.hook)
    events = EventLog()
    booth = Booth(config, [events], pin_factory=factory, mixer_factory=TimedMixer)
    figures = LiftFigures()
    rng = random.Random(args.seed)
    thread = start_booth(booth)
    rec: Recorder | None = None
    try:
        while not booth.ready.wait(0.1):
            if not thread.is_alive():
                raise BenchError("the booth stopped before it was ready")
        hook.hangup()
        stream = booth.audio._stream if booth.audio is not None else None
        if stream is not None:
            figures.portaudio_latency_ms = float(stream.latency) * 1000
            figures.blocksize = int(stream.blocksize)
        time.sleep(0.5)  # let the library decode the first clip
        stats = booth.mixer.stats
        underruns0, callbacks0 = stats.underruns, stats.callbacks
        first_wait = 0.1
        seen = underruns0
        for i in range(lifts + 1):
            # Underruns since the previous lift began are that lift's (1-based: lift i).
            figures.underrun_lifts += [i] * (stats.underruns - seen)
            seen = stats.underruns
            if i == lifts:
                break
            if i % LIFTS_PER_RECORDER == 0:
                if rec is not None:
                    rec.stop()
                rec = sink.record()
                figures.recorder_lifts.append(i + 1)
                if i == 0:
                    figures.pulse = _pulse_latencies(sink)
            assert rec is not None
            time.sleep(rng.uniform(*GAP_S))
            if cold:
                _wait_paused(booth)
            n0 = rec.sample_count()
            pickups.clear()
            hook.lift()
            t_lift = float(events.wait("lift", i + 1)["t"])
            sleep_until(t_lift + rng.uniform(*HOLD_S))
            hook.hangup()
            t_hang = float(events.wait("hangup", i + 1)["t"])
            starts = events.between("clip_start", t_lift, t_hang)
            if not starts:
                figures.failed.append(f"lift {i + 1}: no clip started while lifted")
            elif starts[0]["t"] - t_lift > 0.005:
                figures.waited += 1
            try:
                x = _settle(rec, n0, t_hang, first_wait)
            except BenchError as e:
                figures.failed.append(f"lift {i + 1}: {e}")
                continue
            loud = np.flatnonzero(np.abs(x) > THRESHOLD)
            first, last = int(loud[0]), int(loud[-1])
            lift_s = rec.time_of_sample(n0 + first) - t_lift
            hang_s = rec.time_of_sample(n0 + last) - t_hang
            if lift_s <= 0:
                figures.failed.append(f"lift {i + 1}: sound {lift_s * 1000:.1f} ms before lift")
                continue
            figures.lift_ms.append(lift_s * 1000)
            figures.hangup_ms.append(hang_s * 1000)
            if starts:
                figures.start_event_ms.append((starts[0]["t"] - t_lift) * 1000)
            play_at = next((p for p in pickups if t_lift <= p < t_hang), None)
            stop_at = next((p for p in pickups if p >= t_hang), None)
            if play_at is not None:
                figures.pickup_ms.append((play_at - t_lift) * 1000)
                figures.buffer_ms.append((rec.time_of_sample(n0 + first) - play_at) * 1000)
            if stop_at is not None:
                figures.stop_pickup_ms.append((stop_at - t_hang) * 1000)
            figures.dropouts += int(np.count_nonzero(np.diff(loud) > DROPOUT_S * RATE))
            first_wait = min(1.0, max(0.05, hang_s + 0.05))
            if (i + 1) % 50 == 0:
                progress(f"{i + 1}/{lifts} lifts")
        figures.underruns = stats.underruns - underruns0
        figures.callbacks = stats.callbacks - callbacks0
    finally:
        if rec is not None:
            rec.stop()
        booth.request_stop()
        thread.join(timeout=10)
        factory.close()
    if thread.is_alive():
        raise BenchError("the in-process booth did not stop within 10 s")
    return figures


def _wait_paused(booth: Any, timeout: float = 5.0) -> None:
    """Until the booth has paused its idle stream (a cold lift must start it)."""
    deadline = time.monotonic() + timeout
    while booth.audio is not None and booth.audio.running:
        if time.monotonic() > deadline:
            raise BenchError(f"the booth did not pause its stream within {timeout} s")
        time.sleep(0.01)
    time.sleep(random.uniform(0.0, 0.1))


# --------------------------------------------------------------------------- 4-5: idle child


def _plugin_cpu_seconds(pid: int) -> float:
    """CPU seconds of the ALSA pulse plugin's own threads ("threaded-ml"): rig, not booth.

    A real card has no such thread; its work happens in the kernel and the PortAudio thread.
    """
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().strip() == "threaded-ml":
                total += cpu_seconds(task / "stat")
        except OSError:
            pass
    return total


def _status_mb(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024  # kB -> MiB
    return out


@dataclass
class ChildFigures:
    idle_cpu_percent: float
    idle_cpu_plugin_percent: float  # of which the ALSA pulse plugin's thread
    idle_seconds: float
    vm_rss_mb: float
    vm_hwm_mb: float
    exit_code: int


def measure_child(
    args: argparse.Namespace, sink: PulseSink, config_path: Path, idle_s: float, settle_s: float
) -> ChildFigures:
    """A `kiosk simulate --headless` child: a few lifts, `settle_s` on the hook (its stream
    pauses after `audio.idle_stop_s`), then `idle_s` of idle measured."""
    booth = HeadlessBooth(config_path, sink.env)
    try:
        for _ in range(args.child_lifts):
            booth.send("lift", "sleep 0.25", "hangup", "sleep 0.2")
        if args.child_lifts:
            booth.wait_for("hangup", args.child_lifts, timeout=30 + args.child_lifts)
        else:
            booth.send("sleep 1")
        time.sleep(settle_s)  # the last hang-up's fade, save and decode; the idle stop
        pid = booth.proc.pid
        stat = Path(f"/proc/{pid}/stat")
        cpu0, plugin0, t0 = cpu_seconds(stat), _plugin_cpu_seconds(pid), time.monotonic()
        time.sleep(idle_s)
        cpu1, plugin1, t1 = cpu_seconds(stat), _plugin_cpu_seconds(pid), time.monotonic()
        memory = _status_mb(pid)
        if booth.proc.poll() is not None:
            raise BenchError(f"the simulator exited early:\n{booth.stderr}")
    except BaseException:
        booth.close()
        raise
    code = booth.quit()
    return ChildFigures(
        idle_cpu_percent=100 * (cpu1 - cpu0) / (t1 - t0),
        idle_cpu_plugin_percent=100 * (plugin1 - plugin0) / (t1 - t0),
        idle_seconds=t1 - t0,
        vm_rss_mb=memory.get("VmRSS", float("nan")),
        vm_hwm_mb=memory.get("VmHWM", float("nan")),
        exit_code=code,
    )


# --------------------------------------------------------------------------- 6: READY=1


def _stop_child(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def measure_ready(
    runs: int, sink: PulseSink, config_path: Path, tmp: Path
) -> tuple[list[float], list[int]]:
    """Seconds from Popen to READY=1 on our notify socket, and each run's exit code."""
    times: list[float] = []
    codes: list[int] = []
    path = tmp / "notify.sock"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM", "LISTEN_FDS")
    }
    env.update(sink.env, GPIOZERO_PIN_FACTORY="mock", NOTIFY_SOCKET=str(path))
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        for run in range(runs):
            log_path = tmp / f"ready-{run}.log"
            with log_path.open("wb") as log:
                t0 = time.monotonic()
                proc = subprocess.Popen(
                    [*KIOSK, "run", "--config", str(config_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    env=env,
                )
            try:
                elapsed = _wait_ready(sock, proc, t0, timeout=15.0)
            except BenchError as e:
                raise BenchError(f"{e}\n{log_path.read_text(errors='replace')}") from None
            finally:
                code = _stop_child(proc)
            times.append(elapsed)
            codes.append(code)
            while True:  # drop STOPPING=1 and anything else the child sent
                sock.setblocking(False)
                try:
                    sock.recv(4096)
                except BlockingIOError:
                    break
    return times, codes


def _wait_ready(
    sock: socket.socket, proc: subprocess.Popen[bytes], t0: float, timeout: float
) -> float:
    deadline = t0 + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BenchError(f"no READY=1 within {timeout} s")
        sock.settimeout(min(left, 0.2))
        try:
            data = sock.recv(4096)
        except TimeoutError:
            if proc.poll() is not None:
                raise BenchError(
                    f"kiosk run exited with {proc.returncode} before READY=1"
                ) from None
            continue
        if b"READY=1" in data.split(b"\n"):
            return time.monotonic() - t0


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--lifts", type=int, default=200, help="lifts to time (default 200)")
    p.add_argument("--idle-seconds", type=float, default=30.0, help="idle CPU window (30)")
    p.add_argument(
        "--open-idle-seconds",
        type=float,
        default=0.0,
        help="also the idle CPU with the stream kept running (idle_stop_s 0) over this (0: skip)",
    )
    p.add_argument("--cold-lifts", type=int, default=30, help="lifts after a pause (30)")
    p.add_argument(
        "--jack-lifts",
        type=int,
        default=50,
        help="lifts on JACK's dummy backend, the second row (bench/jack.py; 50; 0: skip)",
    )
    p.add_argument(
        "--control",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="during the lifts, aplay plays silence with the same buffer (machine's underruns)",
    )
    p.add_argument("--ready-runs", type=int, default=5, help="start -> READY=1 runs (5)")
    p.add_argument("--child-lifts", type=int, default=10, help="lifts before the RSS read (10)")
    p.add_argument("--block-ms", type=float, help=f"audio.block_ms ({AudioConfig.block_ms:g})")
    p.add_argument(
        "--latency-ms", type=float, help=f"audio.latency_ms ({AudioConfig.latency_ms:g})"
    )
    p.add_argument("--fade-ms", type=float, help=f"audio.fade_ms ({AudioConfig.fade_ms:g})")
    p.add_argument("--seed", type=int, default=1, help="random gaps and holds (1)")
    args = p.parse_args(argv)
    if args.lifts < 1 or args.ready_runs < 1 or args.child_lifts < 0 or args.idle_seconds <= 0:
        p.error("--lifts and --ready-runs must be >= 1, --idle-seconds > 0")
    if args.cold_lifts < 0 or args.open_idle_seconds < 0 or args.jack_lifts < 0:
        p.error("--cold-lifts, --jack-lifts and --open-idle-seconds must be >= 0")
    return args


def _fmt(value: float | None, digits: int = 1) -> float | None:
    """Rounded for the JSON line; None for a figure that could not be taken (never NaN)."""
    return None if value is None or math.isnan(value) else round(value, digits)


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    defaults = AudioConfig()
    block_ms = args.block_ms if args.block_ms is not None else defaults.block_ms
    latency_ms = args.latency_ms if args.latency_ms is not None else defaults.latency_ms
    fade_ms = args.fade_ms if args.fade_ms is not None else defaults.fade_ms
    make_set(tmp / "set", {"a.wav": 1.0, "b.wav": 1.0, "c.wav": 1.0, "d.wav": 1.0})

    def config(
        name: str, idle_stop_s: float = defaults.idle_stop_s, device: str = "default"
    ) -> Path:
        folder = tmp / name
        folder.mkdir()
        return write_config(
            folder,
            tmp / "set",
            audio__device=device,
            audio__block_ms=block_ms,
            audio__latency_ms=latency_ms,
            audio__fade_ms=fade_ms,
            audio__idle_stop_s=idle_stop_s,
        )

    progress("starting PulseAudio")
    with PulseSink(tmp) as sink:
        if "sounddevice" in sys.modules:
            raise BenchError("sounddevice was imported before ALSA was pointed at the sink")
        os.environ.update(sink.env)
        print(f"machine at the start: {machine_load()}", flush=True)
        print(
            f"audio: device 'default' -> ALSA pulse plugin -> paced null sink, {RATE} Hz, "
            f"block_ms {block_ms:g}, latency_ms {latency_ms:g}, fade_ms {fade_ms:g}, "
            f"idle_stop_s {defaults.idle_stop_s:g}",
            flush=True,
        )
        progress(f"{args.lifts} lifts in-process")

        def series(name: str, count: int, idle_stop_s: float, cold: bool) -> LiftFigures:
            path = config(name, idle_stop_s)
            control = None
            if args.control:
                control = ControlClient(sink, block_ms, latency_ms, tmp / f"aplay-{name}.log")
            try:
                figures = measure_lifts(args, sink, path, count, cold)
            finally:
                if control is not None:
                    control_figures = control.stop()
            if control is not None:
                figures.control = control_figures
            return figures

        lifts = series("inproc", args.lifts, defaults.idle_stop_s, cold=False)
        cold = None
        if args.cold_lifts:
            progress(f"{args.cold_lifts} cold lifts (idle_stop_s {COLD_IDLE_STOP_S:g})")
            cold = series("cold", args.cold_lifts, COLD_IDLE_STOP_S, cold=True)
        settle_s = defaults.idle_stop_s + 1.0
        progress(
            f"simulator child: {args.child_lifts} lifts, {settle_s:g} s to pause, "
            f"then {args.idle_seconds:g} s idle"
        )
        child = measure_child(args, sink, config("child"), args.idle_seconds, settle_s)
        open_child = None
        if args.open_idle_seconds:
            progress(f"simulator child, stream kept running: {args.open_idle_seconds:g} s idle")
            open_path = config("open", 0.0)
            open_child = measure_child(args, sink, open_path, args.open_idle_seconds, 1.0)
        progress(f"{args.ready_runs} x kiosk run -> READY=1")
        ready, ready_codes = measure_ready(args.ready_runs, sink, config("ready"), tmp)
        jack = None
        from bench.jack import JackDummy, measure_jack

        if args.jack_lifts and not JackDummy.available():
            progress("no JACK row: jackd, jack_wait and jack_lsp (Debian's jackd2) are missing")
        elif args.jack_lifts:
            progress(f"{args.jack_lifts} lifts on JACK's dummy backend")
            jack_path = config("jack", device="system")
            jack = measure_jack(args, jack_path, tmp / "jackd.log")
        print(f"machine at the end: {machine_load()}", flush=True)
    jack_figures = report_jack(jack) if jack is not None else {}
    return jack_figures | report(
        args, block_ms, latency_ms, lifts, cold, child, open_child, ready, ready_codes
    )


def report_jack(jack: Any) -> dict[str, Any]:
    """The JACK row's line and figures (bench/jack.py: derived from callback times)."""
    if not jack.pickup_ms:
        print(f"JACK dummy: no lift measured ({jack.failed} failed)")
        return {}
    p50, p95 = percentiles(jack.pickup_ms)
    s50, s95 = percentiles(jack.stop_pickup_ms)
    lat = jack.latency_ms
    print(
        f"JACK dummy card (no PulseAudio; derived: callback + JACK playback latency {lat:.1f} ms): "
        f"lift -> sound p50 {p50 + lat:.1f} ms, p95 {p95 + lat:.1f} ms; hang-up -> silence "
        f"p50 {s50 + lat + jack.fade_ms:.1f} ms, p95 {s95 + lat + jack.fade_ms:.1f} ms "
        f"(fade {jack.fade_ms:g} ms) over {len(jack.pickup_ms)} lifts; underruns "
        f"{jack.underruns} in {jack.callbacks} callbacks"
    )
    return {
        "jack_lift_to_sound_ms_p50": _fmt(p50 + lat),
        "jack_lift_to_sound_ms_p95": _fmt(p95 + lat),
        "jack_hangup_to_silence_ms_p95": _fmt(s95 + lat + jack.fade_ms),
        "jack_underruns": jack.underruns,
        "jack_callbacks": jack.callbacks,
    }


def report(
    args: argparse.Namespace,
    block_ms: float,
    latency_ms: float,
    lifts: LiftFigures,
    cold: LiftFigures | None,
    child: ChildFigures,
    open_child: ChildFigures | None,
    ready: list[float],
    ready_codes: list[int],
) -> dict[str, Any]:
    if not lifts.lift_ms:
        raise BenchError("no lift could be measured: " + "; ".join(lifts.failed[:5]))
    lift50, lift95 = percentiles(lifts.lift_ms)
    hang50, hang95 = percentiles(lifts.hangup_ms)
    event50, event95 = percentiles(lifts.start_event_ms or [float("nan")])
    ready_median = statistics.median(ready)
    pa = lifts.portaudio_latency_ms
    pulse = lifts.pulse

    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f} ms"

    print(
        f"stream: blocksize {lifts.blocksize} frames, PortAudio output latency {ms(pa)}; "
        f"PulseAudio: stream buffer {ms(pulse.get('pulse_buffer_latency_ms'))}, "
        f"sink {ms(pulse.get('pulse_sink_latency_ms'))}"
    )
    n = len(lifts.lift_ms)
    print(
        f"lift -> sound at the sink: p50 {lift50:.1f} ms, p95 {lift95:.1f} ms, "
        f"max {max(lifts.lift_ms):.1f} ms over {n} lifts "
        f"(goal p95 <= {GOALS['lift_to_sound_p95_ms']:g} ms)"
    )
    print(
        f"hang-up -> silence at the sink: p50 {hang50:.1f} ms, p95 {hang95:.1f} ms, "
        f"max {max(lifts.hangup_ms):.1f} ms (includes the fade; "
        f"goal p95 <= {GOALS['hangup_to_silence_p95_ms']:g} ms)"
    )
    print(f"lift -> clip_start event (main loop only): p50 {event50:.2f} ms, p95 {event95:.2f} ms")
    pick50, pick95 = percentiles(lifts.pickup_ms or [float("nan")])
    buf50, buf95 = percentiles(lifts.buffer_ms or [float("nan")])
    stop50, stop95 = percentiles(lifts.stop_pickup_ms or [float("nan")])
    print(
        f"  of which lift -> audio callback takes the clip: p50 {pick50:.1f} ms, "
        f"p95 {pick95:.1f} ms; that callback -> sound at the sink: p50 {buf50:.1f} ms, "
        f"p95 {buf95:.1f} ms"
    )
    print(f"  hang-up -> audio callback starts the fade: p50 {stop50:.1f} ms, p95 {stop95:.1f} ms")
    print(
        f"underruns during the lifts: {lifts.underruns} in {lifts.callbacks} callbacks; "
        f"dropouts at the sink: {lifts.dropouts}; lifts that waited for a decode: {lifts.waited}"
    )
    stream_s = lifts.callbacks * (lifts.blocksize or 0) / RATE
    if lifts.control is not None:
        n_control, control_s = lifts.control
        print(
            f"  meanwhile aplay (C, no booth code, same buffer and period, same sink): "
            f"{n_control} underruns in {control_s:.0f} s; the booth: {lifts.underruns} in "
            f"{stream_s:.0f} s of stream"
        )
    if lifts.underrun_lifts:
        print(
            f"  underruns at lifts {lifts.underrun_lifts} (new recorder at lifts "
            f"{lifts.recorder_lifts[1:]}; the ALSA pulse plugin logs 'underrun occurred')"
        )
    if lifts.failed:
        print(f"lifts not measured: {len(lifts.failed)} (first: {lifts.failed[0]})")
    cold_fig: dict[str, Any] = {}
    if cold is not None and cold.lift_ms:
        c50, c95 = percentiles(cold.lift_ms)
        _, ch95 = percentiles(cold.hangup_ms)
        print(
            f"cold lift (stream closed when idle, the lift opens it) -> sound: p50 {c50:.1f} ms, "
            f"p95 {c95:.1f} ms, max {max(cold.lift_ms):.1f} ms over {len(cold.lift_ms)} lifts; "
            f"hang-up -> silence p95 {ch95:.1f} ms; underruns {cold.underruns} in "
            f"{cold.callbacks} callbacks, dropouts {cold.dropouts}"
        )
        if cold.control is not None:
            print(
                f"  meanwhile aplay: {cold.control[0]} underruns in {cold.control[1]:.0f} s; "
                f"the booth: {cold.underruns} in "
                f"{cold.callbacks * (cold.blocksize or 0) / RATE:.0f} s of stream"
            )
        cold_fig = {
            "cold_lifts_measured": len(cold.lift_ms),
            "cold_lift_to_sound_ms_p50": _fmt(c50),
            "cold_lift_to_sound_ms_p95": _fmt(c95),
            "cold_lift_to_sound_ms_max": _fmt(max(cold.lift_ms)),
            "cold_hangup_to_silence_ms_p95": _fmt(ch95),
            "cold_underruns": cold.underruns,
            "cold_dropouts": cold.dropouts,
            "cold_control_underruns": None if cold.control is None else cold.control[0],
        }
    print(
        f"idle CPU, stream paused: {child.idle_cpu_percent:.2f} % of one core over "
        f"{child.idle_seconds:.0f} s, of which the ALSA pulse plugin thread "
        f"{child.idle_cpu_plugin_percent:.2f} % (goal <= {GOALS['idle_cpu_percent']:g} %)"
    )
    if open_child is not None:
        print(
            f"idle CPU, stream kept running (idle_stop_s 0): {open_child.idle_cpu_percent:.2f} % "
            f"over {open_child.idle_seconds:.0f} s, of which the ALSA pulse plugin thread "
            f"{open_child.idle_cpu_plugin_percent:.2f} %"
        )
        cold_fig["open_idle_cpu_percent"] = _fmt(open_child.idle_cpu_percent, 3)
        cold_fig["open_idle_cpu_pulse_plugin_percent"] = _fmt(open_child.idle_cpu_plugin_percent, 3)
    print(
        f"memory after {args.child_lifts} lifts: VmRSS {child.vm_rss_mb:.1f} MiB, "
        f"VmHWM {child.vm_hwm_mb:.1f} MiB (goal <= {GOALS['rss_mb']:g} MB)"
    )
    print(
        f"start -> READY=1: median {ready_median:.3f} s over {len(ready)} runs "
        f"({', '.join(f'{t:.3f}' for t in ready)}; exit codes {ready_codes}) "
        f"(goal <= {GOALS['start_to_ready_s']:g} s)"
    )
    cold95 = cold_fig.get("cold_lift_to_sound_ms_p95")
    meets = {
        "lift_to_sound_p95_ms": lift95 <= GOALS["lift_to_sound_p95_ms"]
        and (cold95 is None or cold95 <= GOALS["lift_to_sound_p95_ms"]),
        "hangup_to_silence_p95_ms": hang95 <= GOALS["hangup_to_silence_p95_ms"],
        "idle_cpu_percent": child.idle_cpu_percent <= GOALS["idle_cpu_percent"],
        "rss_mb": child.vm_rss_mb <= GOALS["rss_mb"],
        "start_to_ready_s": ready_median <= GOALS["start_to_ready_s"],
    }
    return {
        "block_ms": block_ms,
        "latency_ms": latency_ms,
        "blocksize_frames": lifts.blocksize,
        "portaudio_latency_ms": _fmt(pa),
        **{k: _fmt(v) for k, v in pulse.items()},
        "lifts": args.lifts,
        "lifts_measured": n,
        "lifts_failed": len(lifts.failed),
        "lift_to_sound_ms_p50": _fmt(lift50),
        "lift_to_sound_ms_p95": _fmt(lift95),
        "lift_to_sound_ms_max": _fmt(max(lifts.lift_ms)),
        "hangup_to_silence_ms_p50": _fmt(hang50),
        "hangup_to_silence_ms_p95": _fmt(hang95),
        "hangup_to_silence_ms_max": _fmt(max(lifts.hangup_ms)),
        "lift_to_clip_start_event_ms_p50": _fmt(event50, 2),
        "lift_to_clip_start_event_ms_p95": _fmt(event95, 2),
        "lift_to_callback_ms_p50": _fmt(pick50),
        "lift_to_callback_ms_p95": _fmt(pick95),
        "callback_to_sound_ms_p50": _fmt(buf50),
        "callback_to_sound_ms_p95": _fmt(buf95),
        "hangup_to_fade_start_ms_p50": _fmt(stop50),
        "hangup_to_fade_start_ms_p95": _fmt(stop95),
        "underruns": lifts.underruns,
        "underrun_lifts": lifts.underrun_lifts,
        "stream_seconds": _fmt(stream_s),
        "control_underruns": None if lifts.control is None else lifts.control[0],
        "control_seconds": None if lifts.control is None else _fmt(lifts.control[1]),
        "callbacks": lifts.callbacks,
        "dropouts": lifts.dropouts,
        "lifts_waited_for_decode": lifts.waited,
        **cold_fig,
        "idle_cpu_percent": _fmt(child.idle_cpu_percent, 3),
        "idle_cpu_pulse_plugin_percent": _fmt(child.idle_cpu_plugin_percent, 3),
        "idle_seconds": _fmt(child.idle_seconds),
        "vm_rss_mb": _fmt(child.vm_rss_mb),
        "vm_hwm_mb": _fmt(child.vm_hwm_mb),
        "simulator_exit_code": child.exit_code,
        "start_to_ready_s_median": _fmt(ready_median, 3),
        "start_to_ready_s_runs": [round(t, 3) for t in ready],
        "ready_exit_codes": ready_codes,
        "goals": GOALS,
        "meets_goals": meets,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_main("bench", lambda tmp: run(args, tmp))


if __name__ == "__main__":
    sys.exit(main())
