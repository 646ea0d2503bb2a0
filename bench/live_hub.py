"""Live calls relayed by the hub: `python -m bench.live_hub [--lifts N] [--booths N] [--calls N]`.

Everything on 127.0.0.1: the real hub (`kiosk-hub serve`) with its relay, Twilio-format senders
(tests/live_senders.py) streaming a speech-like test signal, and

1. a real booth (`kiosk simulate --headless`, `live.source: hub`) playing into the paced
   PulseAudio null sink, recorded with CLOCK_MONOTONIC stamps: lift -> first live voice at the
   device (where the call's signal, found by correlation, starts to play after the hook edge),
   and hang-up -> silence (the last loud sample after the hook edge);
2. `--calls` calls streaming into the hub and `--booths` booth connections (a child process,
   asyncio) listening: hub-added frame delay, from the sender's send to a booth connection's
   receipt (p50/p99, timed on 10 connections with a full WebSocket client while the others
   only drain their sockets; includes both ends' Python), and the hub's CPU meanwhile.
   The default policy puts every booth on the longest-live call: the fan-out is the same.
3. the same through two hub workers sharing calls by Redis (`redis-server` on 127.0.0.1): the
   calls enter one worker, the booths are connected to the other (skip with --no-redis).

One human line per figure on stdout, then one JSON object with every figure as the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import requests

from bench.__main__ import percentiles, progress
from bench.common import BenchError, cpu_seconds, run_main
from tests.audio_rig import RATE, PulseSink, Recorder, best_lag
from tests.booth_runner import HeadlessBooth, write_config
from tests.clipmaker import make_set
from tests.hubproc import HubProcess
from tests.live_hub_rig import CONSENT, TWILIO_TOKEN, enroll, enroll_into, live_hub, live_hubs
from tests.live_rig import at_device_rate, voice
from tests.live_senders import TwilioSender
from tests.redisproc import RedisServer

Floats = npt.NDArray[np.float32]
LOUD = 1e-3
GOALS = {"lift_to_voice_p95_ms": 150.0, "hangup_to_silence_p95_ms": "as clips (bench: ~20)"}


def span(rec: Recorder, t0: float, t1: float) -> tuple[int, Floats]:
    x = rec.samples()
    idx = [i for i in range(0, len(x), 240) if t0 <= rec.time_of_sample(i) <= t1]
    return (idx[0], x[idx[0] : idx[-1] + 240]) if idx else (0, x[:0])


def first_live_sample(heard: Floats, ref: Floats) -> int | None:
    """Where the call's audio starts in `heard`: anchor 0.35-0.55 s in, then walk back 5 ms
    blocks while they still match the reference at that offset."""
    anchor = int(0.35 * RATE)
    piece = heard[anchor : anchor + int(0.2 * RATE)]
    if len(piece) < int(0.2 * RATE) or not np.any(piece):
        return None
    lag, score = best_lag(ref, piece)
    if score < 0.7:
        return None
    offset = lag - anchor  # ref index = heard index + offset
    block = RATE // 200
    k = anchor
    while k - block >= 0 and k - block + offset >= 0:
        h = heard[k - block : k].astype(np.float64)
        r = ref[k - block + offset : k + offset].astype(np.float64)
        denom = np.sqrt(np.dot(h, h) * np.dot(r, r))
        if denom == 0 or np.dot(h, r) / denom < 0.6:
            break
        k -= block
    return k


def measure_lifts(tmp: Path, hub: HubProcess, pulse: PulseSink, n: int) -> dict[str, Any]:
    samples = voice(60.0, seed=21)
    ref = at_device_rate(samples)
    folder = tmp / "booth"
    enroll_into(hub, folder / "state")
    make_set(folder / "set", {"a.wav": 1.0})
    cfg = write_config(
        folder,
        folder / "set",
        live__enabled="true",
        live__source="hub",
        live__min_age_s=0,
        live__legs="customer",
    )
    sender = TwilioSender(
        hub.url.replace("http", "ws") + "/live/twilio", TWILIO_TOKEN, samples, params=CONSENT
    )
    booth = HeadlessBooth(cfg, pulse.env)
    voice_ms: list[float] = []
    start_ms: list[float] = []
    silence_ms: list[float] = []
    failed: list[str] = []
    try:
        booth.wait_for("live_status")
        sender.start()
        sender.started.wait(10)
        time.sleep(1.0)
        for i in range(1, n + 1):
            with pulse.record() as rec:
                booth.send("lift")
                lift = booth.wait_for("lift", i)["t"]
                start_ms.append((booth.wait_for("live_start", i)["t"] - lift) * 1000)
                booth.send("sleep 0.8", "hangup")
                hang = booth.wait_for("hangup", i)["t"]
                time.sleep(0.4)
                rec.sync(0.1)
                i0, heard = span(rec, lift, lift + 0.8)
                k = first_live_sample(heard, ref)
                if k is None:
                    failed.append(f"lift {i}: call audio not found")
                else:
                    voice_ms.append((rec.time_of_sample(i0 + k) - lift) * 1000)
                j0, tail = span(rec, hang - 0.1, hang + 0.35)
                loud = np.flatnonzero(np.abs(tail) > LOUD)
                if loud.size:
                    last = rec.time_of_sample(j0 + int(loud[-1]))
                    silence_ms.append(max(0.0, (last - hang) * 1000))
            progress(f"lift {i}/{n}: voice at {voice_ms[-1:]} ms")
            time.sleep(0.3)
    finally:
        sender.halt()
        booth.quit()
    if not voice_ms:
        raise BenchError("no lift reached live voice: " + "; ".join(failed[:3]))
    v50, v95 = percentiles(voice_ms)
    s50, s95 = percentiles(start_ms)
    h50, h95 = percentiles(silence_ms or [float("nan")])
    print(f"lift -> first live voice at the device: p50 {v50:.1f} ms, p95 {v95:.1f} ms")
    print(f"lift -> live_start event (first frame at the booth): p50 {s50:.1f}, p95 {s95:.1f} ms")
    print(f"hang-up -> silence at the device: p50 {h50:.1f} ms, p95 {h95:.1f} ms")
    return {
        "lifts": n,
        "failed": failed,
        "lift_to_voice_ms_p50": round(v50, 1),
        "lift_to_voice_ms_p95": round(v95, 1),
        "lift_to_live_start_ms_p50": round(s50, 1),
        "lift_to_live_start_ms_p95": round(s95, 1),
        "hangup_to_silence_ms_p50": round(h50, 1),
        "hangup_to_silence_ms_p95": round(h95, 1),
    }


MEASURED = 10  # booth connections timed with a full WebSocket client; the rest only drain


def _listen_frame() -> bytes:
    """The `listen` message as a masked client text frame (RFC 6455), for the raw sinks."""
    body = json.dumps(
        {"type": "listen", "n": 1, "legs": "customer", "min_age_s": 0, "prefill_ms": 20}
    ).encode()
    mask = b"\x01\x02\x03\x04"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(body))
    return bytes([0x81, 0x80 | len(body)]) + mask + masked


async def _sink(host: str, port: int, credential: str, seconds: float) -> int:
    """A booth connection that reads and discards (its client costs next to nothing), so the
    hub still sends to every connection while the bench measures only `MEASURED` of them."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        (
            "GET /live/booth HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {credential}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")  # 101: only then does the hub read messages
    writer.write(_listen_frame())
    await writer.drain()
    received = 0
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            chunk = await asyncio.wait_for(reader.read(1 << 16), left)
        except TimeoutError:
            break
        if not chunk:
            break
        received += len(chunk)
    writer.close()
    return received


def _readers(url: str, credentials: list[str], seconds: float, out: Any) -> None:
    """Child process: the booth connections; send back (call, seq, arrival) of the measured."""

    async def measured(credential: str, got: list[tuple[str, int, float]]) -> int:
        from websockets.asyncio.client import connect

        headers = {"Authorization": f"Bearer {credential}"}
        async with connect(url, additional_headers=headers, max_size=2**20) as ws:
            await ws.send(
                json.dumps(
                    {"type": "listen", "n": 1, "legs": "customer", "min_age_s": 0, "prefill_ms": 20}
                )
            )
            call = ""
            end = time.monotonic() + seconds
            while (left := end - time.monotonic()) > 0:
                try:
                    message = await asyncio.wait_for(ws.recv(), left)
                except TimeoutError:
                    break
                now = time.monotonic()
                if isinstance(message, bytes):
                    got.append((call, int.from_bytes(message[3:7]), now))
                elif json.loads(message).get("type") == "listening":
                    call = json.loads(message)["call"]
        return 0

    async def main() -> tuple[list[tuple[str, int, float]], int, float]:
        got: list[tuple[str, int, float]] = []
        host, port = url.split("://")[1].split("/")[0].split(":")
        jobs = [measured(c, got) for c in credentials[:MEASURED]]
        jobs += [_sink(host, int(port), c, seconds) for c in credentials[MEASURED:]]
        cpu0, t0 = time.process_time(), time.monotonic()
        sizes = await asyncio.gather(*jobs)
        return got, sum(sizes), 100 * (time.process_time() - cpu0) / (time.monotonic() - t0)

    out.put(asyncio.run(main()))


def measure_fanout(
    hub: HubProcess, calls: int, booths: int, seconds: float, intake: HubProcess | None = None
) -> dict[str, Any]:
    """Booths on `hub`; the calls enter `intake` (another worker, through Redis) or `hub`."""
    intake = intake or hub
    ids = [enroll(hub, f"bench{i}") for i in range(max(1, booths // 20))]
    credentials = [ids[i % len(ids)].credential for i in range(booths)]
    url = hub.url.replace("http", "ws")
    senders = [
        TwilioSender(
            f"{intake.url.replace('http', 'ws')}/live/twilio",
            TWILIO_TOKEN,
            voice(seconds + 6, seed=30 + i),
            params=CONSENT,
        )
        for i in range(calls)
    ]
    for s in senders:
        s.start()
    for s in senders:
        s.started.wait(10)
    time.sleep(0.5)
    queue: Any = multiprocessing.get_context("spawn").Queue()
    child = multiprocessing.get_context("spawn").Process(
        target=_readers, args=(f"{url}/live/booth", credentials, seconds + 2, queue)
    )
    stats = [Path(f"/proc/{h.pid}/stat") for h in {hub.pid: hub, intake.pid: intake}.values()]
    child.start()
    time.sleep(2.0)  # connections up
    cpu0, t0 = sum(map(cpu_seconds, stats)), time.monotonic()
    time.sleep(seconds - 1)
    hub_cpu = 100 * (sum(map(cpu_seconds, stats)) - cpu0) / (time.monotonic() - t0)
    got, drained, client_cpu = queue.get(timeout=seconds + 60)
    admin = {"Authorization": f"Bearer {hub.token}"}
    inside = requests.get(f"{hub.url}/api/v1/live", headers=admin, timeout=10).json()
    in_hub = inside["frame_delay_ms"]
    child.join(30)
    for s in senders:
        s.halt()
    by_call = {s.call_sid: s for s in senders}
    delays = []
    for call, seq, arrival in got:
        sender = by_call.get(call)
        if sender is not None and seq < len(sender.sent_at):
            sent = sender.sent_at[seq]
            if arrival >= t0:  # only once every connection is up
                delays.append((arrival - sent) * 1000)
    if not delays:
        raise BenchError("no frames reached the booth connections")
    p50, p99 = float(np.percentile(delays, 50)), float(np.percentile(delays, 99))
    print(
        f"in the hub (frame queued -> written to the booth's socket, the last "
        f"{in_hub.get('frames')} frames): p50 {in_hub.get('p50')} ms, p99 {in_hub.get('p99')} ms"
    )
    print(
        f"{calls} calls -> {booths} booth connections: frame delay p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms ({len(delays)} frames); hub CPU {hub_cpu:.0f} % of one core, "
        f"the booth side's {client_cpu:.0f} %, load average {os.getloadavg()[0]:.1f}"
    )
    return {
        "calls": calls,
        "booth_connections": booths,
        "frames_measured": len(delays),
        "measured_connections": min(MEASURED, booths),
        "bytes_to_the_other_connections": drained,
        "frame_delay_ms_p50": round(p50, 1),
        "frame_delay_ms_p99": round(p99, 1),
        "in_hub_delay_ms_p50": in_hub.get("p50"),
        "in_hub_delay_ms_p99": in_hub.get("p99"),
        "hub_cpu_percent": round(hub_cpu, 1),
        "booth_side_cpu_percent": round(client_cpu, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    hub = live_hub(tmp)
    try:
        figures: dict[str, Any] = {}
        if args.lifts:
            (tmp / "pulse").mkdir()
            with PulseSink(tmp / "pulse") as pulse:
                progress(f"{args.lifts} lifts while a call is live")
                figures.update(measure_lifts(tmp, hub, pulse, args.lifts))
        if args.booths:
            progress(f"{args.calls} calls to {args.booths} booth connections, {args.seconds} s")
            figures["fanout"] = measure_fanout(hub, args.calls, args.booths, args.seconds)
    finally:
        hub.stop()
    if args.booths and args.redis:
        progress("the same through two hub workers and Redis (calls in one, booths on the other)")
        with RedisServer(tmp / "redis") as redis:
            workers = live_hubs(tmp / "two", 2, KIOSK_HUB_REDIS_URL=redis.url)
            try:
                figures["fanout_two_workers_redis"] = measure_fanout(
                    workers[1], args.calls, args.booths, args.seconds, intake=workers[0]
                )
            finally:
                for worker in workers:
                    worker.stop()
    figures["goals"] = GOALS
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.live_hub", description=__doc__)
    parser.add_argument("--lifts", type=int, default=20, help="lifts to time (default 20)")
    parser.add_argument("--calls", type=int, default=10, help="calls streaming in (default 10)")
    parser.add_argument("--booths", type=int, default=200, help="booth connections (200)")
    parser.add_argument("--seconds", type=float, default=10.0, help="fan-out window (10 s)")
    parser.add_argument(
        "--no-redis", dest="redis", action="store_false", help="skip the two-worker figure"
    )
    args = parser.parse_args(argv)
    return run_main("bench.live_hub", lambda tmp: run(args, tmp))


if __name__ == "__main__":
    sys.exit(main())
