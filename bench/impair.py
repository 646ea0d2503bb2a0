"""A UDP impairment proxy for SIP + RTP on 127.0.0.1 (netem needs a kernel module CI lacks).

The booth dials the proxy's SIP port; the proxy relays SIP both ways and rewrites the audio
port in the booth's SDP offer to its own RTP port, so the PBX's RTP comes through it. Each RTP
packet is dropped with probability `loss`, or delayed by a uniform random 0..`jitter_s` (so
packets also arrive out of order, as on a congested path). One thread; `stop()` ends it.
"""

from __future__ import annotations

import heapq
import random
import re
import select
import socket
import threading
import time
from dataclasses import dataclass


@dataclass
class ImpairStats:
    forwarded: int = 0
    dropped: int = 0


class ImpairProxy:
    def __init__(self, pbx_port: int, loss: float, jitter_s: float, seed: int = 1) -> None:
        self.pbx = ("127.0.0.1", pbx_port)
        self.loss = loss
        self.jitter_s = jitter_s
        self.stats = ImpairStats()
        self._rng = random.Random(seed)
        self._sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sip.bind(("127.0.0.1", 0))
        self._rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._rtp.bind(("127.0.0.1", 0))
        self.port = int(self._sip.getsockname()[1])
        self.uri = f"sip:spy@127.0.0.1:{self.port}"
        self._booth_sip: tuple[str, int] | None = None
        self._booth_rtp: tuple[str, int] | None = None
        self._queue: list[tuple[float, int, bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="impair", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sip.close()
        self._rtp.close()

    def _rewrite_offer(self, data: bytes) -> bytes:
        head, sep, body = data.partition(b"\r\n\r\n")
        m = re.search(rb"m=audio (\d+)", body)
        if not sep or m is None:
            return data
        self._booth_rtp = ("127.0.0.1", int(m.group(1)))
        rtp_port = self._rtp.getsockname()[1]
        body = body[: m.start(1)] + str(rtp_port).encode() + body[m.end(1) :]
        head = re.sub(rb"(?im)^(content-length|l):\s*\d+", b"Content-Length: %d" % len(body), head)
        return head + sep + body

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            timeout = 0.05
            if self._queue:
                timeout = max(0.0, min(timeout, self._queue[0][0] - time.monotonic()))
            ready, _, _ = select.select([self._sip, self._rtp], [], [], timeout)
            if self._sip in ready:
                data, addr = self._sip.recvfrom(65536)
                if addr == self.pbx:
                    if self._booth_sip is not None:
                        self._sip.sendto(data, self._booth_sip)
                else:
                    self._booth_sip = addr
                    if data.startswith(b"INVITE "):
                        data = self._rewrite_offer(data)
                    self._sip.sendto(data, self.pbx)
            if self._rtp in ready:
                data, _ = self._rtp.recvfrom(65536)
                if self._rng.random() < self.loss:
                    self.stats.dropped += 1
                else:
                    due = time.monotonic() + self._rng.uniform(0, self.jitter_s)
                    n += 1
                    heapq.heappush(self._queue, (due, n, data))
            now = time.monotonic()
            while self._queue and self._queue[0][0] <= now:
                _, _, data = heapq.heappop(self._queue)
                if self._booth_rtp is not None:
                    self._rtp.sendto(data, self._booth_rtp)
                    self.stats.forwarded += 1
