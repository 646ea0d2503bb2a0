"""The relay's WebSocket endpoints: the two platforms' intakes and the booths' feed.

    WS /live/twilio      Twilio Media Streams (X-Twilio-Signature)
    WS /live/audiohook   Genesys AudioHook v2 (X-API-KEY, optional message signature)
    WS /live/booth       enrolled booths (Bearer credential): presence, listen, frames
    GET /api/v1/live     admin: live calls, booths, counters

A refused upgrade is closed before it is accepted (HTTP 403). Call audio stays in memory: a
short backlog per call, and the frames queued for each booth.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from hub.auth import Auth
from hub.live.bus import RedisBus
from hub.live.relay import AGENT, CUSTOMER, FRAME_BYTES, FRAME_MS, Call, Listener, Relay
from hub.live.signatures import Nonces, audiohook_problem, twilio_valid

log = logging.getLogger(__name__)
POLICY_VIOLATION = 1008


class ProtocolError(ValueError):
    """A stream broke its platform's protocol; the connection is closed."""


def live_router(relay: Relay, auth: Auth, wall: Callable[[], float] = time.time) -> APIRouter:
    router = APIRouter()
    settings = relay.settings
    bus = RedisBus(settings.redis_url, relay, wall) if settings.redis_url else None
    nonces = Nonces()

    async def shared() -> None:
        """With several workers: join the Redis bus before the first stream or booth."""
        if bus is not None:
            await bus.ensure_started()

    async def refuse(ws: WebSocket, what: str, why: str) -> None:
        relay.stats[f"refused_{what}"] += 1
        log.warning("live: refused a %s stream: %s", what, why)
        await ws.close(code=POLICY_VIOLATION)

    def signed_url(ws: WebSocket) -> str:
        base = settings.public_url.rstrip("/")
        if not base:
            host = ws.headers.get("host", ws.url.netloc)
            base = f"{ws.url.scheme}://{host}"
        query = f"?{ws.url.query}" if ws.url.query else ""
        return f"{base}{ws.url.path}{query}"

    @router.websocket("/live/twilio")
    async def twilio(ws: WebSocket) -> None:
        given = ws.headers.get("x-twilio-signature", "")
        if not twilio_valid(signed_url(ws), {}, settings.twilio_auth_token, given):
            await refuse(ws, "twilio", "bad or missing X-Twilio-Signature")
            return
        await shared()
        await ws.accept()
        call: Call | None = None
        reason = "stop"
        try:
            while True:
                message = _json(await ws.receive_text())
                event = message.get("event")
                if event == "start":
                    start = _dict(message, "start")
                    params = start.get("customParameters") or {}
                    if not isinstance(params, dict) or call is not None:
                        raise ProtocolError("start: bad customParameters, or a second start")
                    media_format = start.get("mediaFormat") or {}
                    if (
                        not isinstance(media_format, dict)
                        or media_format.get("encoding") != "audio/x-mulaw"
                        or media_format.get("sampleRate") != 8000
                    ):
                        raise ProtocolError(f"start: not 8 kHz μ-law: {media_format}")
                    call = relay.open(str(start.get("callSid", "")), "twilio", params)
                elif event == "media":
                    if call is None:
                        raise ProtocolError("media before start")
                    media = _dict(message, "media")
                    leg = CUSTOMER if media.get("track") == "inbound" else AGENT
                    payload = base64.b64decode(str(media.get("payload", "")), validate=True)
                    seq = int(media.get("timestamp", 0)) // FRAME_MS
                    for i in range(0, len(payload) - FRAME_BYTES + 1, FRAME_BYTES):
                        relay.frame(call, leg, seq + i // FRAME_BYTES, payload[i : i + 160])
                elif event == "stop":
                    break
        except WebSocketDisconnect:
            reason = "disconnected"
        except (ProtocolError, ValueError, binascii.Error) as e:
            reason = "protocol error"
            log.warning("live: twilio stream: %s", e)
            with contextlib.suppress(RuntimeError):
                await ws.close(code=1003)
        finally:
            if call is not None:
                relay.close(call, reason)

    @router.websocket("/live/audiohook")
    async def audiohook(ws: WebSocket) -> None:
        headers = {k.lower(): v for k, v in ws.headers.items()}
        target = ws.url.path + (f"?{ws.url.query}" if ws.url.query else "")
        problem = audiohook_problem(
            headers,
            target,
            settings.audiohook_api_key,
            settings.audiohook_client_secret,
            wall(),
            nonces,
        )
        if problem is not None:
            await refuse(ws, "audiohook", problem)
            return
        await shared()
        await ws.accept()
        session = AudioHookSession(relay, headers["audiohook-session-id"])
        reason = "closed"
        try:
            while not session.closed:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    reason = "disconnected"
                    break
                if message.get("bytes") is not None:
                    session.audio(message["bytes"])
                elif message.get("text") is not None:
                    for reply in session.control(_json(message["text"])):
                        await ws.send_text(json.dumps(reply))
        except WebSocketDisconnect:
            reason = "disconnected"
        except (ProtocolError, ValueError) as e:
            reason = "protocol error"
            log.warning("live: audiohook session: %s", e)
            with contextlib.suppress(RuntimeError):
                await ws.close(code=1003)
        finally:
            if session.call is not None:
                relay.close(session.call, reason)

    @router.websocket("/live/booth")
    async def booth(ws: WebSocket) -> None:
        who = auth.principal(ws)
        if who is None or who.role != "booth":
            await refuse(ws, "booth", "no booth credential")
            return
        await shared()
        await ws.accept()
        listener = Listener(who.booth_id, asyncio.Queue(settings.booth_queue_frames))
        relay.join(listener)
        pump = asyncio.create_task(_pump(ws, listener, relay))
        watch = asyncio.create_task(_still_enrolled(ws, auth, settings.revoked_check_s))
        try:
            while True:
                message = _json(await ws.receive_text())
                n = int(message.get("n", 0))
                if message.get("type") == "listen":
                    legs = str(message.get("legs", "both"))
                    min_age = float(message.get("min_age_s", 0))
                    prefill = int(message.get("prefill_ms", 60))
                    relay.listen(listener, n, legs, min_age, prefill)
                elif message.get("type") == "stop":
                    relay.stop(listener, n)
        except (WebSocketDisconnect, ValueError, TypeError):
            pass
        finally:
            relay.leave(listener)
            for task in (pump, watch):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    @router.get("/api/v1/live")
    def live_status() -> dict[str, Any]:
        return relay.snapshot()  # the /api/ middleware lets only the admin through

    return router


async def _still_enrolled(ws: WebSocket, auth: Auth, every_s: float) -> None:
    """A booth revoked while connected is cut off within `every_s`."""
    while True:
        await asyncio.sleep(every_s)
        if auth.principal(ws) is None:
            log.info("live: a revoked booth's connection is closed")
            with contextlib.suppress(RuntimeError):
                await ws.close(code=POLICY_VIOLATION)
            return


async def _pump(ws: WebSocket, listener: Listener, relay: Relay) -> None:
    """Send what is queued for one booth, in order; note each frame's time in the hub."""
    while True:
        item, queued = await listener.outbox.get()
        try:
            if isinstance(item, bytes):
                await ws.send_bytes(item)
                relay.delays_s.append(time.monotonic() - queued)
            else:
                await ws.send_text(item)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return


class AudioHookSession:
    """One AudioHook session's protocol state: sequence numbers, the negotiated media, and the
    audio cut into 20 ms frames per channel (external = customer, internal = agent)."""

    def __init__(self, relay: Relay, session_id: str) -> None:
        self.relay = relay
        self.id = session_id
        self.seq = 0
        self.client_seq = 0
        self.call: Call | None = None
        self.channels: list[int] = []
        self.closed = False
        self._pending: list[bytearray] = []
        self._frames = 0

    def _reply(self, kind: str, **parameters: Any) -> dict[str, Any]:
        self.seq += 1
        return {
            "version": "2",
            "type": kind,
            "seq": self.seq,
            "clientseq": self.client_seq,
            "id": self.id,
            "parameters": parameters,
        }

    def control(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        kind = message.get("type")
        self.client_seq = int(message.get("seq", self.client_seq))
        params = message.get("parameters") or {}
        if not isinstance(params, dict):
            raise ProtocolError(f"{kind}: parameters must be an object")
        if kind == "open":
            if self.call is not None:
                raise ProtocolError("a second open")
            media = self._choose(params.get("media"))
            config = params.get("customConfig") or {}
            call_id = str(params.get("conversationId") or self.id)
            self.call = self.relay.open(call_id, "audiohook", config)
            return [self._reply("opened", startPaused=False, media=[media])]
        if kind == "ping":
            return [self._reply("pong")]
        if kind == "close":
            self.closed = True
            return [self._reply("closed")]
        if self.call is None:
            raise ProtocolError(f"{kind} before open")
        if kind in ("paused", "pause"):
            self.relay.pause(self.call, True)
        elif kind in ("resumed", "resume"):
            self.relay.pause(self.call, False)
            return [self._reply("resumed")] if kind == "resume" else []
        elif kind == "update":
            config = params.get("customConfig")
            if isinstance(config, dict):
                self.relay.update(self.call, config)
        return []

    def _choose(self, offered: Any) -> dict[str, Any]:
        for media in offered if isinstance(offered, list) else []:
            if (
                isinstance(media, dict)
                and media.get("type") == "audio"
                and media.get("format") == "PCMU"
                and media.get("rate") == 8000
                and isinstance(media.get("channels"), list)
            ):
                names = media["channels"]
                legs = {"external": CUSTOMER, "internal": AGENT}
                if names and all(n in legs for n in names):
                    self.channels = [legs[n] for n in names]
                    self._pending = [bytearray() for _ in names]
                    return media
        raise ProtocolError("open: no PCMU 8 kHz audio offered")

    def audio(self, data: bytes) -> None:
        if self.call is None:
            raise ProtocolError("audio before open")
        step = len(self.channels)
        for i, pending in enumerate(self._pending):
            pending += data[i::step]
        while len(self._pending[0]) >= FRAME_BYTES:
            for leg, pending in zip(self.channels, self._pending, strict=True):
                self.relay.frame(self.call, leg, self._frames, bytes(pending[:FRAME_BYTES]))
                del pending[:FRAME_BYTES]
            self._frames += 1


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as e:
        raise ProtocolError(f"not JSON: {e}") from e
    if not isinstance(value, dict):
        raise ProtocolError("expected a JSON object")
    return value


def _dict(message: dict[str, Any], key: str) -> dict[str, Any]:
    value = message.get(key)
    if not isinstance(value, dict):
        raise ProtocolError(f"{message.get('event')}: no {key} object")
    return value
