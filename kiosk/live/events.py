"""What the live link reports to the main loop. Frozen; `call` is the session's dial number."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallAnswered:
    """200 OK: the PBX answered dial number `call` (audio may not flow yet)."""

    call: int


@dataclass(frozen=True)
class CallAudio:
    """RTP (or the hub's first frame) arrives for dial number `call`: the call is audible.
    From the hub, `source` is the platform and `call_id` its id for the call."""

    call: int
    source: str = ""
    call_id: str = ""


@dataclass(frozen=True)
class CallClosed:
    """Dial number `call` ended; `reason` is the SIP reason (e.g. "486 Busy Here"). `more`:
    whether another live call is there to go on to (the hub relay knows; None = ask
    `live_up`)."""

    call: int
    reason: str
    more: bool | None = None


@dataclass(frozen=True)
class LiveStatus:
    """baresip is ready to dial (`up`), or not and why (dead, restarting, not registered)."""

    up: bool
    reason: str = ""


@dataclass(frozen=True)
class CallIncoming:
    """Someone calls the booth: it never answers (listen-only); the main loop rejects it."""

    peer: str


@dataclass(frozen=True)
class LivePresence:
    """The hub says `calls` calls are live now; `new` when one of them was not before."""

    calls: int
    new: bool
