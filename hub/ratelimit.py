"""Rate limits (the `limits` library, in memory: one hub process): failed guesses per client
address on `/login` and `/api/v1/enroll`, and events and heartbeats per booth.

Over a limit the answer is 429 with Retry-After (whole seconds). A guess that succeeds is not
counted, so an admin who types the token right is never locked out by a stranger's guesses
from another address. Behind a proxy on 127.0.0.1, uvicorn takes the client's address from
X-Forwarded-For (its default `forwarded_allow_ips`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import HTTPException
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.asgi import respond
from kiosk.fleet.fit import MAX_BATCH_EVENTS


@dataclass(frozen=True)
class RateLimits:
    """In the `limits` notation ("10/minute")."""

    login_failures: str = "10/minute"  # per client address
    enroll_failures: str = "10/minute"  # per client address
    events: str = "6000/minute"  # per booth: a week's backlog drains in minutes
    heartbeats: str = "30/minute"  # per booth: the shortest interval is 5 s

    def with_overrides(self, overrides: Iterable[str]) -> RateLimits:
        """These limits with `NAME=RATE` overrides (`kiosk-hub serve --rate-limit`), e.g.
        `heartbeats=60/minute`. Raises ValueError naming the override that is wrong."""
        names = [f.name for f in dataclasses.fields(self)]
        changes: dict[str, str] = {}
        for item in overrides:
            name, sep, rate = item.partition("=")
            name, rate = name.strip(), rate.strip()
            if not sep or name not in names:
                raise ValueError(f"{item!r}: expected NAME=RATE, NAME one of {', '.join(names)}")
            try:
                parsed = parse(rate)
            except ValueError:
                parsed = None
            if parsed is None or parsed.amount < 1:
                raise ValueError(f"{item!r}: {rate!r} is not a rate such as 10/minute")
            if name == "events" and parsed.amount < MAX_BATCH_EVENTS:
                # One upload costs its event count: a smaller limit refuses full batches forever.
                raise ValueError(
                    f"{item!r}: at least {MAX_BATCH_EVENTS} events per window (one full upload)"
                )
            changes[name] = rate
        return dataclasses.replace(self, **changes)


class Limiter:
    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.guesses = {
            ("POST", "/login"): parse(limits.login_failures),
            ("POST", "/api/v1/enroll"): parse(limits.enroll_failures),
        }
        self._events = parse(limits.events)
        self._heartbeats = parse(limits.heartbeats)

    def retry_after(self, item: RateLimitItem, *key: str) -> int:
        reset = self._limiter.get_window_stats(item, *key).reset_time
        return max(1, math.ceil(reset - time.time()))

    def guess_allowed(self, item: RateLimitItem, *key: str) -> bool:
        return self._limiter.test(item, *key)

    def guess_failed(self, item: RateLimitItem, *key: str) -> None:
        self._limiter.hit(item, *key)

    def booth_events(self, booth_id: str, count: int) -> None:
        """Raises 429 if `count` more events would take the booth over its limit."""
        self._take(self._events, "events", booth_id, max(count, 1))

    def booth_heartbeat(self, booth_id: str) -> None:
        self._take(self._heartbeats, "heartbeat", booth_id, 1)

    def _take(self, item: RateLimitItem, what: str, booth_id: str, cost: int) -> None:
        if not self._limiter.hit(item, what, booth_id, cost=cost):
            wait = self.retry_after(item, what, booth_id)
            raise HTTPException(
                429, f"{what}: over {item} for this booth", headers={"Retry-After": str(wait)}
            )


class GuessLimit:
    """ASGI middleware: failed tries (answers 4xx) per client address on the guessable paths."""

    def __init__(self, app: ASGIApp, limiter: Limiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        item = self.limiter.guesses.get((scope.get("method", ""), scope.get("path", "")))
        if scope["type"] != "http" or item is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        key = (scope["path"], client[0] if client else "unknown")
        if not self.limiter.guess_allowed(item, *key):
            await too_many(send, self.limiter.retry_after(item, *key))
            return

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 400:
                self.limiter.guess_failed(item, *key)
            await send(message)

        await self.app(scope, receive, watched)


async def too_many(send: Send, retry_after: int) -> None:
    detail = f"too many failed tries; retry after {retry_after} s"
    await respond(send, 429, detail, [(b"retry-after", str(retry_after).encode())])
