"""The booth's side of the hub relay (`live.source: hub`), on one thread ("live-hub").

The thread holds a WebSocket to `<hub>/live/booth` with the booth's fleet credential, and turns
what the hub says into events for the main loop, the same ones baresip's link posts:
`LiveStatus` (up while a call at least `live.min_age_s` old is live), `LivePresence` (calls now
live, and whether one is new), `CallAnswered`, `CallAudio` (the first frame), `CallClosed`.
Frames go into the jitter buffer the mixer pulls from (`samples()`); nothing is written to disk.
A dropped connection closes an open listen ("relay lost") and reconnects after a back-off.

The main thread only calls `dial`, `hangup`, `samples` and `healthy`; `dial`'s number is the
session's, and every frame carries it, so frames of an older listen are never played.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kiosk.backoff import Backoff
from kiosk.config import LiveConfig
from kiosk.fleet.identity import Identity
from kiosk.live import ulaw
from kiosk.live.events import CallAnswered, CallAudio, CallClosed, LivePresence, LiveStatus
from kiosk.live.jitter import FRAME, JitterBuffer, LiveSamples

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

log = logging.getLogger(__name__)

HEADER_BYTES = 7  # ">HBI": listen number, leg, frame sequence
FRAME_MS = 20
STALL_CHECK_S = 0.1  # while a call plays
IDLE_S = 30.0  # otherwise: wake only for presence ageing past min_age_s


def hub_ws_url(hub: str) -> str:
    scheme, _, rest = hub.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest.rstrip('/')}/live/booth"


class HubLink:
    """See the module docstring."""

    def __init__(
        self,
        live: LiveConfig,
        identity: Identity,
        rate: int,
        post: Callable[[object], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.live = live
        self.identity = identity
        self.url = hub_ws_url(identity.hub)
        self.rate = rate
        self.post = post
        self.clock = clock
        self.target_frames = max(1, round(live.hub_buffer_ms / FRAME_MS))
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._ws: ClientConnection | None = None
        self._thread: threading.Thread | None = None
        self._listen = 0  # the open listen's number, 0 = none
        self._audible = False  # its first frame came
        self._paused = False
        self._last_frame = 0.0
        self._buffer = JitterBuffer(self.target_frames)
        self._calls: list[dict[str, Any]] = []
        self._seen: set[str] = set()
        self._presence_at = 0.0
        self._up: LiveStatus | None = None
        self._source = "hub"  # the listen's platform and call id, from the hub's `listening`
        self._call_id = ""

    # -- main thread -----------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="live-hub", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            ws = self._ws
        if ws is not None:
            ws.close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def healthy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def dial(self, call: int, uri: str) -> None:
        """Ask the hub for a call's audio as listen number `call`."""
        with self._lock:
            self._listen, self._audible, self._paused = call, False, False
            self._buffer = JitterBuffer(self.target_frames)
        self._send(
            {
                "type": "listen",
                "n": call,
                "legs": self.live.legs,
                "min_age_s": self.live.min_age_s,
                "prefill_ms": self.live.hub_buffer_ms,
            },
            call,
        )

    def hangup(self, call: int) -> None:
        with self._lock:
            if self._listen == call:
                self._listen = 0
        self._send({"type": "stop", "n": call}, None)

    def reject(self) -> None:
        """Nothing calls a hub booth."""

    def samples(self) -> LiveSamples:
        """The open listen's audio for the mixer (pulled on the audio thread)."""
        with self._lock:
            return LiveSamples(self._buffer, self.rate)

    def _send(self, message: dict[str, Any], call: int | None) -> None:
        with self._lock:
            ws = self._ws
        try:
            if ws is None:
                raise OSError("not connected to the hub")
            ws.send(json.dumps(message))
        except Exception as e:  # websockets' ConnectionClosed or OSError: the relay is gone
            if call is not None:
                self.post(CallClosed(call, f"relay unavailable ({type(e).__name__})"))

    # -- the link thread -------------------------------------------------------------------
    def _run(self) -> None:
        from websockets.exceptions import WebSocketException

        backoff = Backoff(self.live.retry_max_s)
        while not self._stop.is_set():
            started = self.clock()
            try:
                reason = self._session()
            except (OSError, WebSocketException, ValueError) as e:
                reason = f"hub relay: {type(e).__name__}: {e}"[:200]
            with self._lock:
                self._ws = None
                lost, self._listen = self._listen, 0
            if lost:
                self.post(CallClosed(lost, "relay lost", False))
            self._calls = []
            self._status(False, reason)
            self.post(LivePresence(0, False))
            if self._stop.is_set():
                return
            wait = backoff.wait_after(self.clock() - started)
            log.warning("live: %s; reconnecting in %.0f s", reason, wait)
            self._stop.wait(wait)

    def _session(self) -> str:
        from websockets.sync.client import connect

        headers = {"Authorization": f"Bearer {self.identity.credential}"}
        with connect(self.url, additional_headers=headers, open_timeout=10, max_size=2**20) as ws:
            with self._lock:
                self._ws = ws
            while not self._stop.is_set():
                try:
                    message: str | bytes | None = ws.recv(timeout=self._timeout())
                except TimeoutError:
                    message = None
                if isinstance(message, bytes):
                    self._frame(message)
                elif message is not None:
                    self._control(json.loads(message))
                self._check()
            return "stopping"

    def _frame(self, data: bytes) -> None:
        n, leg, seq = int.from_bytes(data[0:2]), data[2], int.from_bytes(data[3:7])
        with self._lock:
            current, buffer = self._listen, self._buffer
        if n != (current & 0xFFFF) or current == 0:
            return
        if self.live.legs == "customer" and leg != 0:
            return
        buffer.push(seq, ulaw.decode(data[HEADER_BYTES : HEADER_BYTES + FRAME]))
        self._last_frame = self.clock()
        if not self._audible:
            self._audible = True
            self.post(CallAudio(current, self._source, self._call_id))

    def _control(self, message: dict[str, Any]) -> None:
        kind, n = message.get("type"), int(message.get("n", 0))
        if kind == "presence":
            calls = message.get("calls")
            self._calls = (
                [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []
            )
            self._presence_at = self.clock()
            ids = {str(c.get("id")) for c in self._calls}
            new = bool(ids - self._seen)
            self._seen = ids
            self.post(LivePresence(len(ids), new))
            return
        with self._lock:
            current = self._listen
        if n != current or current == 0:
            return
        if kind == "listening":
            self._source = str(message.get("source", "hub"))
            self._call_id = str(message.get("call", ""))
            self._last_frame = self.clock()
            self.post(CallAnswered(n))
        elif kind in ("none", "ended"):
            with self._lock:
                self._listen = 0
            # The hub sent the presence without this call first: is there another to go on to?
            reason = "no live call" if kind == "none" else "call ended"
            self.post(CallClosed(n, reason, self._ready()))
        elif kind in ("paused", "resumed"):
            self._paused = kind == "paused"
            self._last_frame = self.clock()

    def _timeout(self) -> float:
        """Until the next thing `_check` must notice: a stall, or a call coming of age."""
        if self._listen:
            return STALL_CHECK_S
        elapsed = self.clock() - self._presence_at
        waits = [self.live.min_age_s - float(c.get("age_s", 0)) - elapsed for c in self._calls]
        return min([w for w in waits if w > 0] + [IDLE_S]) + 0.01

    def _check(self) -> None:
        """Presence ageing past `min_age_s` (LiveStatus), and a listen whose frames stalled."""
        now = self.clock()
        ready = self._ready()
        with self._lock:
            current = self._listen
        if ready or not current:  # the call heard ends by `ended` (CallClosed), not by this
            self._status(ready, "" if ready else "no live call")
        stalled = now - self._last_frame >= self.live.rtp_timeout_s
        if current and self._audible and not self._paused and stalled:
            with self._lock:
                self._listen = 0
            self._send({"type": "stop", "n": current}, None)
            self.post(CallClosed(current, "stalled"))

    def _ready(self) -> bool:
        """A call at least `min_age_s` old is live (by the last presence, aged since)."""
        elapsed = self.clock() - self._presence_at
        return any(float(c.get("age_s", 0)) + elapsed >= self.live.min_age_s for c in self._calls)

    def _status(self, up: bool, reason: str) -> None:
        status = LiveStatus(up, reason)
        if status != self._up:
            self._up = status
            self.post(status)
