"""Contact-center senders for the hub relay's tests and bench, written from the platforms'
published protocols (not from the hub's code): a Twilio Media Streams sender and a Genesys
AudioHook client, each a thread that paces 20 ms of μ-law at a time; and a booth-side reader.

Impairments: `loss` drops that share of frames (seeded), `jitter_ms` delays each frame by up to
that much (frames stay in order: TCP), `stall_after_s` stops the audio but keeps the socket.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import random
import threading
import time
import uuid
from typing import Any

import numpy as np
import numpy.typing as npt
from websockets.sync.client import ClientConnection, connect

from tests.g711 import to_int16, ulaw_encode

FRAME = 160  # 20 ms at 8 kHz


def mulaw(samples: npt.ArrayLike) -> bytes:
    return bytes(ulaw_encode(to_int16(samples)).tobytes())


def twilio_signature(url: str, auth_token: str) -> str:
    """Twilio's request signature: base64 HMAC-SHA1 of the URL (no POST body on an upgrade)."""
    return base64.b64encode(
        hmac.new(auth_token.encode(), url.encode(), hashlib.sha1).digest()
    ).decode()


class Paced(threading.Thread):
    """Shared pacing and impairments; subclasses send one stream in `run`."""

    def __init__(
        self,
        seconds: float,
        loss: float = 0.0,
        jitter_ms: float = 0.0,
        stall_after_s: float | None = None,
        seed: int = 3,
    ) -> None:
        super().__init__(daemon=True)
        self.frames = int(seconds * 50)
        self.loss = loss
        self.jitter_ms = jitter_ms
        self.stall_after = None if stall_after_s is None else int(stall_after_s * 50)
        self.rng = random.Random(seed)
        self.error: BaseException | None = None
        self.received: list[dict[str, Any]] = []
        self.sent_at: list[float] = []  # monotonic time each frame went out (None if dropped)
        self.started = threading.Event()
        self._halt = threading.Event()

    def halt(self) -> None:
        self._halt.set()

    def pace(self, send_frame: Any) -> None:
        t0 = time.monotonic()
        for i in range(self.frames):
            if self._halt.is_set():
                return
            if self.stall_after is not None and i >= self.stall_after:
                self._halt.wait(3600)
                return
            due = t0 + i * 0.02 + self.rng.uniform(0, self.jitter_ms / 1000)
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if self.rng.random() < self.loss:
                continue
            self.sent_at.append(time.monotonic())
            send_frame(i)

    def run(self) -> None:
        try:
            self.stream()
        except BaseException as e:  # reported by finish()
            self.error = e
        finally:
            self.started.set()

    def stream(self) -> None:
        raise NotImplementedError

    def finish(self, timeout: float = 60) -> None:
        self.join(timeout)
        if self.error is not None:
            raise self.error


class TwilioSender(Paced):
    """One Twilio call's Media Stream: connected, start, media per track, stop."""

    def __init__(
        self,
        url: str,
        auth_token: str,
        customer: npt.ArrayLike,
        agent: npt.ArrayLike | None = None,
        params: dict[str, str] | None = None,
        signature: str | None = None,
        call_sid: str | None = None,
        **impair: Any,
    ) -> None:
        self.customer = mulaw(customer)
        self.agent = mulaw(agent) if agent is not None else None
        super().__init__(len(self.customer) / 8000, **impair)
        self.url = url
        self.signature = twilio_signature(url, auth_token) if signature is None else signature
        self.params = params or {}
        self.call_sid = call_sid or "CA" + uuid.uuid4().hex
        self.stream_sid = "MZ" + uuid.uuid4().hex

    def connect(self) -> ClientConnection:
        return connect(self.url, additional_headers={"X-Twilio-Signature": self.signature})

    def stream(self) -> None:
        with self.connect() as ws:
            seq = 0

            def send(message: dict[str, Any]) -> None:
                nonlocal seq
                seq += 1
                ws.send(json.dumps({"sequenceNumber": str(seq), **message}))

            ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            tracks = ["inbound", "outbound"] if self.agent is not None else ["inbound"]
            start = {
                "accountSid": "AC" + "0" * 32,
                "streamSid": self.stream_sid,
                "callSid": self.call_sid,
                "tracks": tracks,
                "customParameters": self.params,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            }
            send({"event": "start", "start": start, "streamSid": self.stream_sid})
            self.started.set()

            def frame(i: int) -> None:
                for track, audio in (("inbound", self.customer), ("outbound", self.agent)):
                    if audio is None:
                        continue
                    payload = base64.b64encode(audio[i * FRAME : (i + 1) * FRAME]).decode()
                    media = {"track": track, "chunk": str(i + 1), "timestamp": str(i * 20)}
                    send(
                        {
                            "event": "media",
                            "media": {**media, "payload": payload},
                            "streamSid": self.stream_sid,
                        }
                    )

            self.pace(frame)
            stop = {"accountSid": "AC" + "0" * 32, "callSid": self.call_sid}
            send({"event": "stop", "stop": stop, "streamSid": self.stream_sid})


def audiohook_headers(
    host: str, path: str, api_key: str, client_secret: str | None, session_id: str
) -> dict[str, str]:
    """The upgrade's headers; with a client secret, an RFC 9421 message signature as Genesys
    sends it (hmac-sha256 keyed with the base64-decoded secret)."""
    headers = {
        "Audiohook-Organization-Id": str(uuid.uuid4()),
        "Audiohook-Session-Id": session_id,
        "Audiohook-Correlation-Id": str(uuid.uuid4()),
        "X-API-KEY": api_key,
    }
    if client_secret is None:
        return headers
    covered = {
        "@request-target": path,
        "@authority": host,
        **{k.lower(): v for k, v in headers.items()},
    }
    created = int(time.time())
    names = " ".join(f'"{name}"' for name in covered)
    params = (
        f'({names});keyid="{api_key}";nonce="{uuid.uuid4().hex}";alg="hmac-sha256";'
        f"created={created};expires={created + 30}"
    )
    base = "\n".join(
        [*(f'"{k}": {v}' for k, v in covered.items()), f'"@signature-params": {params}']
    )
    mac = hmac.new(base64.b64decode(client_secret), base.encode(), hashlib.sha256).digest()
    headers["Signature-Input"] = f"sig1={params}"
    headers["Signature"] = f"sig1=:{base64.b64encode(mac).decode()}:"
    return headers


class AudioHookClient(Paced):
    """One AudioHook session: open/opened, ping/pong, optional paused/resumed, stereo PCMU
    (external = customer, internal = agent), close/closed."""

    def __init__(
        self,
        url: str,
        api_key: str,
        customer: npt.ArrayLike,
        agent: npt.ArrayLike | None = None,
        config: dict[str, str] | None = None,
        client_secret: str | None = None,
        pause_at_s: float | None = None,
        conversation_id: str | None = None,
        **impair: Any,
    ) -> None:
        self.customer = mulaw(customer)
        agent_audio = np.zeros(len(self.customer)) if agent is None else agent
        self.agent = mulaw(agent_audio)
        super().__init__(len(self.customer) / 8000, **impair)
        self.url = url
        self.api_key = api_key
        self.client_secret = client_secret
        self.config = config or {}
        self.pause_at = None if pause_at_s is None else int(pause_at_s * 50)
        self.session_id = str(uuid.uuid4())
        self.conversation_id = conversation_id or str(uuid.uuid4())
        self.seq = 0
        self.server_seq = 0

    def headers(self) -> dict[str, str]:
        rest = self.url.split("://", 1)[1]
        host, _, path = rest.partition("/")
        return audiohook_headers(
            host, "/" + path, self.api_key, self.client_secret, self.session_id
        )

    def connect(self) -> ClientConnection:
        return connect(self.url, additional_headers=self.headers())

    def _message(self, ws: ClientConnection, kind: str, **parameters: Any) -> None:
        self.seq += 1
        message = {
            "version": "2",
            "type": kind,
            "seq": self.seq,
            "serverseq": self.server_seq,
            "id": self.session_id,
            "position": f"PT{self.seq * 0.02:.2f}S",
            "parameters": parameters,
        }
        ws.send(json.dumps(message))

    def _expect(self, ws: ClientConnection, kind: str) -> dict[str, Any]:
        while True:
            reply = json.loads(ws.recv(timeout=5))
            self.received.append(reply)
            self.server_seq = int(reply["seq"])
            if reply["type"] == kind:
                if reply["clientseq"] != self.seq:
                    raise AssertionError(f"{kind} answers clientseq {reply['clientseq']}")
                return dict(reply)

    def stream(self) -> None:
        with self.connect() as ws:
            media = {
                "type": "audio",
                "format": "PCMU",
                "channels": ["external", "internal"],
                "rate": 8000,
            }
            self._message(
                ws,
                "open",
                organizationId=str(uuid.uuid4()),
                conversationId=self.conversation_id,
                participant={
                    "id": str(uuid.uuid4()),
                    "ani": "+15550100",
                    "aniName": "Caller",
                    "dnis": "+15550199",
                },
                media=[media],
                language="en-US",
                customConfig=self.config,
            )
            opened = self._expect(ws, "opened")
            if opened["parameters"]["media"][0]["channels"] != ["external", "internal"]:
                raise AssertionError(f"opened with {opened}")
            self._message(ws, "ping")
            self._expect(ws, "pong")
            self.started.set()
            stereo = np.empty(len(self.customer) * 2, np.uint8)
            stereo[0::2] = np.frombuffer(self.customer, np.uint8)
            stereo[1::2] = np.frombuffer(self.agent, np.uint8)
            data = stereo.tobytes()

            def frame(i: int) -> None:
                if self.pause_at is not None and i == self.pause_at:
                    self._message(ws, "paused")
                    time.sleep(0.2)
                    self._message(ws, "resumed")
                ws.send(data[i * 2 * FRAME : (i + 1) * 2 * FRAME])

            self.pace(frame)
            self._message(ws, "close", reason="end")
            self._expect(ws, "closed")


class BoothReader(threading.Thread):
    """A bare booth connection (no audio device): presence, one listen, the frames' arrival."""

    def __init__(self, hub_url: str, credential: str) -> None:
        super().__init__(daemon=True)
        self.url = hub_url.replace("http://", "ws://") + "/live/booth"
        self.credential = credential
        self.messages: list[dict[str, Any]] = []
        self.frames: list[tuple[float, int, int, bytes]] = []  # (arrival, leg, seq, payload)
        self.ws: ClientConnection | None = None
        self._stack = contextlib.ExitStack()
        self.error: BaseException | None = None
        self._cond = threading.Condition()

    def open(self) -> BoothReader:
        headers = {"Authorization": f"Bearer {self.credential}"}
        self.ws = self._stack.enter_context(connect(self.url, additional_headers=headers))
        self.start()
        return self

    def run(self) -> None:
        assert self.ws is not None
        try:
            for message in self.ws:
                now = time.monotonic()
                with self._cond:
                    if isinstance(message, bytes):
                        leg, seq = message[2], int.from_bytes(message[3:7])
                        self.frames.append((now, leg, seq, message[7:]))
                    else:
                        self.messages.append(json.loads(message))
                    self._cond.notify_all()
        except BaseException as e:  # closed under us
            self.error = e

    def send(self, **message: Any) -> None:
        assert self.ws is not None
        self.ws.send(json.dumps(message))

    def wait_for(self, kind: str, timeout: float = 10, where: Any = None) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for m in self.messages:
                    if m["type"] == kind and (where is None or where(m)):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no {kind} in {timeout} s: {self.messages} {self.error!r}"
                    )
                self._cond.wait(left)

    def close(self) -> None:
        self._stack.close()
        if self.ws is not None:
            self.join(5)
