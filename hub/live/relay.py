"""The live calls on this hub process and the booths listening: in-process fan-out on the event
loop's thread (no locks). Intakes call `open`/`frame`/`close`; booth connections `join`,
`listen`, `stop` and `leave`, and read what to send from their own bounded queue.

A frame sent to a booth is a binary WebSocket message: `HEADER` (listen number, leg, frame
sequence; big-endian) then 160 bytes of μ-law (20 ms at 8 kHz). Text messages are JSON:
`presence`, `listening`, `none`, `ended`, `paused`, `resumed`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.live.settings import LiveHubSettings

if TYPE_CHECKING:
    from hub.live.bus import RedisBus

log = logging.getLogger(__name__)

HEADER = struct.Struct(">HBI")
FRAME_BYTES = 160  # 20 ms of 8 kHz μ-law
FRAME_MS = 20
CUSTOMER, AGENT = 0, 1
LEGS = {"both": frozenset({CUSTOMER, AGENT}), "customer": frozenset({CUSTOMER})}


@dataclass(eq=False)
class Listener:
    """One booth's connection: what it listens to and what waits to be sent to it."""

    booth_id: str
    outbox: asyncio.Queue[tuple[bytes | str, float]]  # with when it was queued (monotonic)
    call: Call | None = None
    n: int = 0
    legs: frozenset[int] = LEGS["both"]
    dropped: int = 0

    def send(self, item: bytes | str) -> None:
        try:
            self.outbox.put_nowait((item, time.monotonic()))
        except asyncio.QueueFull:
            self.dropped += 1  # a slow booth loses frames, never slows the others


@dataclass(eq=False)
class Call:
    id: str
    source: str  # twilio | audiohook
    started: float
    relayed: bool
    queue: str = ""
    tags: tuple[str, ...] = ()
    paused: bool = False
    backlog: deque[tuple[int, int, bytes]] = field(default_factory=deque)
    heard_at: float = 0.0  # when its last frame came (a stalled stream is not picked)
    remote: bool = False  # taken by another hub worker (hub/live/bus.py)
    listeners: set[Listener] = field(default_factory=set)
    last_seq: int = -1


STALE_S = 2.0  # a call with no frame for this long (and not paused) is not picked


def pick(calls: Iterable[Call], now: float, min_age_s: float) -> Call | None:
    """The call live longest among relayed ones at least `min_age_s` old (not the greeting),
    leaving out streams that stalled."""
    ready = [
        c
        for c in calls
        if c.relayed
        and now - c.started >= min_age_s
        and (c.paused or now - max(c.heard_at, c.started) < STALE_S)
    ]
    return min(ready, key=lambda c: c.started, default=None)


def tags_of(params: Mapping[str, Any]) -> tuple[str, ...]:
    raw = params.get("tags", "")
    items = raw if isinstance(raw, list) else str(raw).split(",")
    return tuple(str(t).strip() for t in items if str(t).strip())


class Relay:
    """See the module docstring. `stats` counts what happened, for /api/v1/live."""

    def __init__(
        self, settings: LiveHubSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.calls: dict[str, Call] = {}
        self.listeners: set[Listener] = set()
        self.stats: Counter[str] = Counter()
        self.delays_s: deque[float] = deque(maxlen=20_000)  # frame queued -> sent to a booth
        self._backlog_frames = max(1, settings.backlog_ms // FRAME_MS) * 2
        self.bus: RedisBus | None = None  # set by the bus: local calls are published

    # -- intakes ---------------------------------------------------------------------------
    def open(self, call_id: str, source: str, params: Mapping[str, Any]) -> Call:
        """A stream started; it is relayed only with consent and in an allowed queue/tag."""
        queue, tags = str(params.get("queue", "")), tags_of(params)
        consented = self.settings.consented(params)
        allowed = self.settings.allowed(queue, tags)
        call = Call(call_id, source, self.clock(), consented and allowed, queue, tags)
        self.stats[f"calls_{source}"] += 1
        if not consented:
            self.stats["calls_without_consent"] += 1
            log.info("live: %s call without consent: audio dropped", source)
        elif not allowed:
            self.stats["calls_filtered"] += 1
        if call.relayed:
            self._add(call)
            if self.bus is not None:
                self.bus.opened(call)
        return call

    def adopt(
        self, call_id: str, source: str, age_s: float, queue: str, tags: tuple[str, ...]
    ) -> Call:
        """A call another worker took and relays (it checked consent)."""
        call = Call(call_id, source, self.clock() - age_s, True, queue, tags, remote=True)
        call.heard_at = self.clock()
        self._add(call)
        return call

    def _add(self, call: Call) -> None:
        old = self.calls.pop(call.id, None)
        if old is not None:
            self._end(old, "replaced")
        self.calls[call.id] = call
        self._presence()

    def update(self, call: Call, params: Mapping[str, Any]) -> None:
        """New parameters mid-call (AudioHook `update`): consent withdrawn stops the relay."""
        if call.relayed and not self.settings.consented(params):
            self.stats["consent_withdrawn"] += 1
            self.close(call, "consent withdrawn")
            call.relayed = False

    def frame(self, call: Call, leg: int, seq: int, payload: bytes) -> None:
        if not call.relayed or self.calls.get(call.id) is not call:
            self.stats["frames_dropped_without_consent"] += 1
            return
        self.stats["frames_in"] += 1
        call.heard_at = self.clock()
        if self.bus is not None and not call.remote:
            self.bus.frame(call, leg, seq, payload)
        if call.paused:
            return
        call.last_seq = max(call.last_seq, seq)
        call.backlog.append((leg, seq, payload))
        if len(call.backlog) > self._backlog_frames:
            call.backlog.popleft()
        for listener in call.listeners:
            if leg in listener.legs:
                listener.send(HEADER.pack(listener.n & 0xFFFF, leg, seq) + payload)

    def pause(self, call: Call, paused: bool) -> None:
        call.paused = paused
        if self.bus is not None and not call.remote:
            self.bus.paused(call, paused)
        for listener in call.listeners:
            listener.send(_text("paused" if paused else "resumed", n=listener.n))

    def close(self, call: Call, reason: str) -> None:
        if self.calls.get(call.id) is call:
            del self.calls[call.id]
            if self.bus is not None and not call.remote:
                self.bus.closed(call, reason)
            self._presence()  # first: a booth then knows whether another call is there
            self._end(call, reason)

    def _end(self, call: Call, reason: str) -> None:
        for listener in call.listeners:
            listener.send(_text("ended", n=listener.n, call=call.id, reason=reason))
            listener.call = None
        call.listeners.clear()

    # -- booths ----------------------------------------------------------------------------
    def join(self, listener: Listener) -> None:
        self.listeners.add(listener)
        listener.send(self.presence())

    def leave(self, listener: Listener) -> None:
        self.listeners.discard(listener)
        self._detach(listener)

    def listen(
        self, listener: Listener, n: int, legs: str, min_age_s: float, prefill_ms: int
    ) -> Call | None:
        """Start listener's listen number `n`: a call now, with `prefill_ms` of what it just
        said so the booth's jitter buffer starts full; or `none`."""
        self._detach(listener)
        listener.n, listener.legs = n, LEGS.get(legs, LEGS["both"])
        call = pick(self.calls.values(), self.clock(), min_age_s)
        if call is None:
            listener.send(_text("none", n=n))
            return None
        listener.call = call
        call.listeners.add(listener)
        self.stats["listens"] += 1
        listener.send(_text("listening", n=n, call=call.id, source=call.source))
        first = call.last_seq - max(1, prefill_ms // FRAME_MS) + 1
        for leg, seq, payload in call.backlog:
            if seq >= first and leg in listener.legs:
                listener.send(HEADER.pack(n & 0xFFFF, leg, seq) + payload)
        return call

    def stop(self, listener: Listener, n: int) -> None:
        if listener.n == n:
            self._detach(listener)

    def _detach(self, listener: Listener) -> None:
        if listener.call is not None:
            listener.call.listeners.discard(listener)
            listener.call = None

    def presence(self) -> str:
        now = self.clock()
        calls = [
            {"id": c.id, "source": c.source, "age_s": round(now - c.started, 3)}
            for c in self.calls.values()
        ]
        return _text("presence", calls=calls)

    def _presence(self) -> None:
        message = self.presence()
        for listener in self.listeners:
            listener.send(message)

    def snapshot(self) -> dict[str, Any]:
        """For the admin: live calls, booths connected and listening, counters."""
        now = self.clock()
        return {
            "calls": [
                {
                    "id": c.id,
                    "source": c.source,
                    "age_s": round(now - c.started, 1),
                    "listeners": len(c.listeners),
                    "queue": c.queue,
                }
                for c in self.calls.values()
            ],
            "booths_connected": len(self.listeners),
            "booths_listening": sum(1 for b in self.listeners if b.call is not None),
            "counters": dict(self.stats),
            "frame_delay_ms": _percentiles(self.delays_s),
        }


def _percentiles(values: deque[float]) -> dict[str, float]:
    """p50 and p99 in ms of the latest frames' hub-added delay."""
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"p50": at(0.5), "p99": at(0.99), "frames": len(ordered)}


def _text(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields})
