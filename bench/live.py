"""Live-call benchmarks: `python -m bench.live [--lifts N]` or `scripts/dev.sh bench live`.

The booth (`kiosk simulate --headless`, live enabled) dials sipp (tests/sipp/uas_pcmu.xml, the
PBX answering at once and streaming a speech-like test signal) on 127.0.0.1, and plays into the
paced PulseAudio null sink whose monitor is recorded with CLOCK_MONOTONIC stamps
(tests/audio_rig.Recorder). Figures:

1. lift -> first live voice at the device (p50, p95): where the start of the PBX's signal
   (found by correlation) plays, after the hook edge;
2. booth-added latency: the first RTP packet's arrival on lo (an AF_PACKET tap; needs root)
   -> that packet's audio at the device;
3. hang-up -> silence at the device (the last live sample);
4. a 12 s call through bench/impair.py with 5 % loss and 0-40 ms jitter (and a clean call, to
   check the method): 20 ms frames heard intact, concealed/garbled, silent, and the dropouts
   (silent runs), i.e. whether playback stays continuous.

One human line per figure on stdout, then one JSON object with every figure as the last line.
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.__main__ import percentiles, progress
from bench.common import BenchError, run_main
from bench.impair import ImpairProxy
from kiosk.config import LiveConfig
from tests.audio_rig import RATE, PulseSink, Recorder, best_lag
from tests.booth_runner import HeadlessBooth, write_config
from tests.clipmaker import make_set
from tests.live_rig import Sipp, at_device_rate, free_port, live_overrides, voice, write_g711

Floats = npt.NDArray[np.float32]
LOUD = 1e-3
FRAME = RATE // 50  # 20 ms
GOALS = {"lift_to_voice_p95_ms": 250.0, "hangup_to_silence_p95_ms": 20.0}


class RtpTap:
    """Arrival times of RTP packets on lo from UDP source ports [lo, hi) (AF_PACKET, root)."""

    def __init__(self, ports: range) -> None:
        self.ports = ports
        self.stamps: list[float] = []
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
        self._sock.bind(("lo", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rtp-tap", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame, addr = self._sock.recvfrom(2048)
            except TimeoutError:
                continue
            stamp = time.monotonic()
            if addr[2] != socket.PACKET_HOST or len(frame) < 14 + 20 + 8 + 12:
                continue  # lo shows each packet twice: keep the delivery, not the send
            ip = frame[14:]
            ihl = (ip[0] & 0x0F) * 4
            if ip[9] != socket.IPPROTO_UDP:
                continue
            src, _ = struct.unpack("!HH", ip[ihl : ihl + 4])
            rtp = ip[ihl + 8 :]
            if src in self.ports and rtp[0] >> 6 == 2:
                self.stamps.append(stamp)

    def first_after(self, t: float) -> float | None:
        return next((s for s in self.stamps if s >= t), None)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()


@dataclass
class Lifts:
    lift_to_voice_ms: list[float] = field(default_factory=list)
    lift_to_live_start_ms: list[float] = field(default_factory=list)
    rtp_to_device_ms: list[float] = field(default_factory=list)
    hangup_to_silence_ms: list[float] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def span(rec: Recorder, t0: float, t1: float) -> tuple[int, Floats]:
    """(index of the first sample, samples) whose play time lies in [t0, t1]."""
    x = rec.samples()
    idx = [i for i in range(0, len(x), 240) if t0 <= rec.time_of_sample(i) <= t1]
    return (idx[0], x[idx[0] : idx[-1] + 240]) if idx else (0, x[:0])


def booth_config(tmp: Path, uri: str, live: dict[str, int]) -> Path:
    folder = tmp / f"booth-{free_port()}"
    folder.mkdir()
    make_set(folder / "set", {"a.wav": 1.0})
    return write_config(folder, folder / "set", **live_overrides(uri, **live))


def measure_lifts(
    tmp: Path,
    pulse: PulseSink,
    ref: Floats,
    n: int,
    tap: RtpTap | None,
    media_port: int,
    live: dict[str, int],
) -> Lifts:
    port = free_port()
    uri = f"sip:spy@127.0.0.1:{port}"
    booth = HeadlessBooth(booth_config(tmp, uri, live), pulse.env)
    out = Lifts()
    # The signal's 100-300 ms: its very start may be lost to the jitter buffer's first fill.
    skip = int(0.1 * RATE)
    needle = ref[skip : skip + int(0.2 * RATE)]
    try:
        booth.wait_for("live_status")
        for i in range(1, n + 1):
            # A fresh sipp per lift: one sipp serving many calls starts their RTP ~100 ms late.
            with Sipp("uas_pcmu.xml", tmp, port, 30, "-mp", str(media_port)), pulse.record() as rec:
                booth.send("lift")
                lift = booth.wait_for("lift", i)["t"]
                start = booth.wait_for("live_start", i)["t"]
                booth.send("sleep 0.8", "hangup")
                hang = booth.wait_for("hangup", i)["t"]
                time.sleep(0.4)
                rec.sync(0.1)
                i0, heard = span(rec, lift, lift + 0.8)
                if len(heard) <= len(needle):
                    out.failed.append(f"lift {i}: nothing recorded")
                    continue
                lag, score = best_lag(heard, needle)
                if score < 0.7:
                    out.failed.append(f"lift {i}: voice not found (score {score:.2f})")
                    continue
                voice_t = rec.time_of_sample(i0 + lag) - skip / RATE
                out.lift_to_voice_ms.append((voice_t - lift) * 1000)
                out.lift_to_live_start_ms.append((start - lift) * 1000)
                first_rtp = tap.first_after(lift) if tap else None
                if first_rtp is not None:
                    out.rtp_to_device_ms.append((voice_t - first_rtp) * 1000)
                j0, tail = span(rec, hang - 0.1, hang + 0.35)
                loud = np.flatnonzero(np.abs(tail) > LOUD)
                if loud.size:
                    last = rec.time_of_sample(j0 + int(loud[-1]))
                    out.hangup_to_silence_ms.append(max(0.0, (last - hang) * 1000))
            progress(f"lift {i}/{n}: voice at {out.lift_to_voice_ms[-1:]} ms")
    finally:
        booth.quit()
    return out


def continuity(heard: Floats, ref: Floats) -> dict[str, Any]:
    """Follow `heard` 20 ms frame by frame through the looped reference signal."""
    lag, score = best_lag(np.tile(ref, 2), heard[: int(0.3 * RATE)])
    if score < 0.5:
        raise BenchError(f"call audio not found in the recording (score {score:.2f})")
    loop = np.tile(ref, (lag + len(heard)) // len(ref) + 3)
    offset, search = lag, int(0.1 * RATE)  # where heard[0] sits in the loop, kept up to date
    intact = garbled = silent = dropouts = run = 0
    for k in range(len(heard) // FRAME):
        frame = heard[k * FRAME : (k + 1) * FRAME]
        if np.sqrt(np.mean(frame.astype(np.float64) ** 2)) < LOUD:
            silent += 1
            run += 1
            continue
        dropouts += run > 0
        run = 0
        lo = max(0, k * FRAME + offset - search)
        where, s = best_lag(loop[lo : lo + FRAME + 2 * search], frame)
        if s > 0.9:
            intact += 1
            offset = lo + where - k * FRAME
        else:
            garbled += 1
    total = intact + garbled + silent
    return {
        "frames": total,
        "intact_percent": round(100 * intact / total, 1),
        "concealed_or_garbled_frames": garbled,
        "silent_frames": silent,
        "dropouts": dropouts,
        "drift_ms": round((offset - lag) / RATE * 1000, 1),
    }


def measure_call(
    tmp: Path,
    pulse: PulseSink,
    ref: Floats,
    seconds: float,
    loss: float,
    jitter_s: float,
    live: dict[str, int],
) -> dict[str, Any]:
    port = free_port()
    proxy = ImpairProxy(port, loss, jitter_s)
    booth = HeadlessBooth(booth_config(tmp, proxy.uri, live), pulse.env)
    try:
        booth.wait_for("live_status")
        with Sipp("uas_pcmu.xml", tmp, port, 30 + seconds), pulse.record() as rec:
            booth.send("lift")
            start = booth.wait_for("live_start")["t"]
            booth.send(f"sleep {seconds}", "hangup")
            hang = booth.wait_for("hangup", timeout=seconds + 15)["t"]
            rec.sync(0.1)
            _, heard = span(rec, start + 0.3, hang - 0.1)
    finally:
        booth.quit()
        proxy.stop()
    figures = continuity(heard, ref)
    figures["rtp_dropped_by_proxy"] = proxy.stats.dropped
    figures["rtp_forwarded_by_proxy"] = proxy.stats.forwarded
    return figures


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    live = {"jitter_ms": args.jitter_ms, "ptime_ms": args.ptime_ms}
    media_port = free_port()  # sipp's -mp base, which the RTP tap filters on
    samples = voice(3.0)
    write_g711(tmp, samples)
    ref = at_device_rate(samples)
    try:
        tap: RtpTap | None = RtpTap(range(media_port, media_port + 8))
    except PermissionError:
        tap = None
        progress("no AF_PACKET (not root): booth-added latency is not measured")
    with PulseSink(tmp) as pulse:
        try:
            progress(f"{args.lifts} lifts, the PBX answering at once")
            lifts = measure_lifts(tmp, pulse, ref, args.lifts, tap, media_port, live)
        finally:
            if tap is not None:
                tap.stop()
        progress("clean 6 s call")
        clean = measure_call(tmp, pulse, ref, 6.0, 0.0, 0.0, live)
        progress(f"{args.seconds:g} s call with 5 % loss, 0-40 ms jitter")
        rough = measure_call(tmp, pulse, ref, args.seconds, 0.05, 0.04, live)
    if not lifts.lift_to_voice_ms:
        raise BenchError("no lift reached live voice: " + "; ".join(lifts.failed[:3]))
    v50, v95 = percentiles(lifts.lift_to_voice_ms)
    e50, e95 = percentiles(lifts.lift_to_live_start_ms)
    h50, h95 = percentiles(lifts.hangup_to_silence_ms or [float("nan")])
    r50, r95 = percentiles(lifts.rtp_to_device_ms or [float("nan")])
    print(f"lift -> first live voice at the device: p50 {v50:.1f} ms, p95 {v95:.1f} ms")
    print(f"lift -> live_start event (RTP flowing): p50 {e50:.1f} ms, p95 {e95:.1f} ms")
    print(f"booth-added latency, RTP arrival -> device: p50 {r50:.1f} ms, p95 {r95:.1f} ms")
    print(f"hang-up -> silence at the device: p50 {h50:.1f} ms, p95 {h95:.1f} ms")
    print(f"clean call: {clean}")
    print(f"5 % loss, 0-40 ms jitter: {rough}")
    return {
        "lifts": args.lifts,
        **live,
        "failed": lifts.failed,
        "lift_to_voice_ms_p50": round(v50, 1),
        "lift_to_voice_ms_p95": round(v95, 1),
        "lift_to_live_start_ms_p50": round(e50, 1),
        "lift_to_live_start_ms_p95": round(e95, 1),
        "rtp_to_device_ms_p50": round(r50, 1),
        "rtp_to_device_ms_p95": round(r95, 1),
        "hangup_to_silence_ms_p50": round(h50, 1),
        "hangup_to_silence_ms_p95": round(h95, 1),
        "clean_call": clean,
        "loss5_jitter40_call": rough,
        "goals": GOALS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.live", description=__doc__)
    parser.add_argument("--lifts", type=int, default=30, help="lifts to time (default 30)")
    parser.add_argument("--seconds", type=float, default=12.0, help="impaired call length")
    parser.add_argument(
        "--jitter-ms", type=int, default=LiveConfig().jitter_ms, help="the booth's live.jitter_ms"
    )
    parser.add_argument(
        "--ptime-ms", type=int, default=LiveConfig().ptime_ms, help="the booth's live.ptime_ms"
    )
    args = parser.parse_args(argv)
    return run_main("bench.live", lambda tmp: run(args, tmp))


if __name__ == "__main__":
    sys.exit(main())
