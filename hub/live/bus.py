"""Several hub workers share their live calls through Redis pub/sub (`redis_url` set).

A worker publishes what its own intakes take: a call opened (also kept in the `live:calls`
hash, so a worker that starts later knows it), its frames, pause and close. Every worker
subscribes and feeds the others' calls into its local Relay as remote calls, so a booth
connected to any worker hears a call that entered any other. One channel keeps the order
(Redis delivers one publisher's messages to a subscriber in order): `C` + JSON for control,
`F` + binary for a frame. Remote calls that sent nothing for `LOST_S` (their worker died) are
dropped. Audio passes through Redis' memory only: pub/sub stores nothing.

Runs on the event loop's thread; started on the first WebSocket (no change to the app's
lifespan), publishing through one queue and task so the relay never awaits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.live.relay import Call, Relay

log = logging.getLogger(__name__)

CHANNEL = "live"
CALLS = "live:calls"
LOST_S = 10.0
_FRAME = struct.Struct(">8sBBI")  # worker, len(call id), leg, seq; then the id and payload


class RedisBus:
    def __init__(self, url: str, relay: Relay, wall: Callable[[], float] = time.time) -> None:
        self.url = url
        self.relay = relay
        self.wall = wall
        self.worker = uuid.uuid4().bytes[:8]
        self._out: asyncio.Queue[tuple[str, Any]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started: asyncio.Lock | None = None
        self._ready = False
        relay.bus = self

    async def ensure_started(self) -> None:
        """Connect, learn the calls live on other workers, start listening (once)."""
        if self._ready:
            return
        if self._started is None:
            self._started = asyncio.Lock()
        async with self._started:
            if self._ready:
                return
            import redis.asyncio as redis

            self.redis = redis.from_url(self.url)
            self.pubsub = self.redis.pubsub()
            await self.pubsub.subscribe(CHANNEL)
            for raw in (await self.redis.hgetall(CALLS)).values():
                self._adopt(json.loads(raw))
            self._out = asyncio.Queue()
            loop = asyncio.get_running_loop()
            for job in (self._publish(), self._listen(), self._sweep()):
                self._tasks.append(loop.create_task(job))
            self._ready = True
            log.info("live: sharing calls through %s", self.url.split("@")[-1])

    # -- from the relay (local calls) ------------------------------------------------------
    def opened(self, call: Call) -> None:
        body = {
            "op": "open",
            "worker": self.worker.hex(),
            "id": call.id,
            "source": call.source,
            "started_wall": self.wall() - (self.relay.clock() - call.started),
            "queue": call.queue,
            "tags": list(call.tags),
        }
        self._put("open", body)

    def frame(self, call: Call, leg: int, seq: int, payload: bytes) -> None:
        key = call.id.encode()
        self._put("frame", _FRAME.pack(self.worker, len(key), leg, seq) + key + payload)

    def paused(self, call: Call, paused: bool) -> None:
        self._put(
            "control", {"op": "pause", "worker": self.worker.hex(), "id": call.id, "paused": paused}
        )

    def closed(self, call: Call, reason: str) -> None:
        self._put(
            "close", {"op": "close", "worker": self.worker.hex(), "id": call.id, "reason": reason}
        )

    def _put(self, kind: str, item: Any) -> None:
        if self._out is not None:
            self._out.put_nowait((kind, item))

    # -- tasks -----------------------------------------------------------------------------
    async def _publish(self) -> None:
        assert self._out is not None
        while True:
            batch = [await self._out.get()]
            while not self._out.empty() and len(batch) < 500:
                batch.append(self._out.get_nowait())
            pipe = self.redis.pipeline(transaction=False)
            for kind, item in batch:
                if kind == "frame":
                    pipe.publish(CHANNEL, b"F" + item)
                    continue
                pipe.publish(CHANNEL, b"C" + json.dumps(item).encode())
                if kind == "open":
                    pipe.hset(CALLS, item["id"], json.dumps(item))
                elif kind == "close":
                    pipe.hdel(CALLS, item["id"])
            try:
                await pipe.execute()
            except Exception as e:  # Redis down: the other workers miss these; ours play on
                self.relay.stats["bus_errors"] += 1
                log.warning("live: redis publish failed: %s", e)

    async def _listen(self) -> None:
        while True:
            try:
                message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except Exception as e:  # the connection dropped: retry after a pause
                self.relay.stats["bus_errors"] += 1
                log.warning("live: redis subscription failed: %s", e)
                await asyncio.sleep(1.0)
                continue
            if message is None:
                continue
            data: bytes = message["data"]
            if data[:1] == b"F":
                self._frame(data[1:])
            elif data[:1] == b"C":
                self._control(json.loads(data[1:]))

    def _frame(self, data: bytes) -> None:
        worker, size, leg, seq = _FRAME.unpack_from(data)
        if worker == self.worker:
            return
        start = _FRAME.size
        call = self.relay.calls.get(data[start : start + size].decode())
        if call is not None and call.remote:
            self.relay.frame(call, leg, seq, data[start + size :])

    def _control(self, body: dict[str, Any]) -> None:
        if body.get("worker") == self.worker.hex():
            return
        call = self.relay.calls.get(str(body.get("id")))
        if body["op"] == "open":
            self._adopt(body)
        elif call is not None and call.remote and body["op"] == "pause":
            self.relay.pause(call, bool(body.get("paused")))
        elif call is not None and call.remote and body["op"] == "close":
            self.relay.close(call, str(body.get("reason", "closed")))

    def _adopt(self, body: dict[str, Any]) -> None:
        if body.get("worker") == self.worker.hex():
            return
        age = max(0.0, self.wall() - float(body["started_wall"]))
        self.relay.adopt(
            str(body["id"]),
            str(body["source"]),
            age,
            str(body.get("queue", "")),
            tuple(body.get("tags", ())),
        )

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(2.0)
            now = self.relay.clock()
            for call in list(self.relay.calls.values()):
                quiet = now - max(call.heard_at, call.started)
                if call.remote and not call.paused and quiet > LOST_S:
                    self.relay.close(call, "lost")
                    with contextlib.suppress(Exception):
                        await self.redis.hdel(CALLS, call.id)
