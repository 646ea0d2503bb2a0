"""The records a booth sends its hub: one definition, written by the booth, checked by the hub.

`EventRecord` is one queued event (`POST /api/v1/events`), `Heartbeat` one heartbeat
(`POST /api/v1/heartbeat`). Every field has bounds: numbers are finite and in a sane range,
strings are capped and valid UTF-8 (no lone surrogates), an event's JSON is at most
MAX_RECORD_BYTES. Fields not named here may ride along ("extras") if they are flat scalars
within the same bounds, so a newer booth can add a field without being refused.

The booth fits what it writes to these bounds in plain Python (kiosk.fleet.fit: `fit_event`,
`fit_heartbeat`, and the bounds themselves), so it never imports pydantic, and the hub refuses
only what was never a booth's. The hub validates strictly (`EventRecord.model_validate`) and
reads stored rows leniently (`readable_heartbeat`), so an old bad row can never break a page.
Only pydantic here: the hub imports this module, and a booth tool may (never FastAPI).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kiosk.fleet.fit import (
    CONSENT_PATHS,
    DIGIT,
    EVENT_NAME,
    MAX_BATCH_BYTES,
    MAX_COUNT,
    MAX_EXTRAS,
    MAX_HEARTBEAT_BYTES,
    MAX_MONOTONIC_S,
    MAX_MS,
    MAX_NAME,
    MAX_RECORD_BYTES,
    MAX_TEXT,
    MAX_UNIX_S,
    clean_text,
    extra_problem,
    fit_event,
    fit_heartbeat,
)

__all__ = [
    "CONSENT_PATHS",
    "MAX_BATCH_BYTES",
    "MAX_HEARTBEAT_BYTES",
    "MAX_RECORD_BYTES",
    "EventRecord",
    "Heartbeat",
    "clean_text",
    "fit_event",
    "fit_heartbeat",
    "readable_heartbeat",
    "reason",
]

UnixTime = Annotated[float, Field(ge=0, le=MAX_UNIX_S)]
Seconds = Annotated[float, Field(ge=-MAX_UNIX_S, le=MAX_UNIX_S)]
Millis = Annotated[int, Field(ge=0, le=MAX_MS)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Name = Annotated[str, Field(max_length=MAX_NAME)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
UpdateState = Literal[  # kiosk.fleet.fit.UPDATE_STATES
    "idle", "downloading", "staged", "applying", "probation", "rolled_back", "failed"
]
Scalar = str | bool | int | float | None


class _Record(BaseModel):
    """Strict: no "5" for 5, no true for 1, no NaN or infinity; extras checked too."""

    model_config = ConfigDict(strict=True, extra="allow", allow_inf_nan=False)

    @model_validator(mode="after")
    def _extras_are_flat_and_bounded(self) -> Self:
        extra = self.__pydantic_extra__ or {}
        if len(extra) > MAX_EXTRAS:
            raise ValueError(f"more than {MAX_EXTRAS} fields beyond the known ones")
        for key, value in extra.items():
            problem = extra_problem(key, value)
            if problem:
                raise ValueError(f"{key[:64]!r}: {problem}")
        return self

    def dump(self) -> dict[str, Any]:
        """The record as JSON-ready values, without fields left unset."""
        return self.model_dump(mode="json", exclude_unset=True)


class EventRecord(_Record):
    """One booth event, as queued in the booth's outbox and stored by the hub."""

    event: str = Field(pattern=f"^{EVENT_NAME}$")
    at: UnixTime  # the booth's wall clock when the event was queued (Unix s)
    # the booth's monotonic clock (s)
    t: Annotated[float, Field(ge=0, le=MAX_MONOTONIC_S)] | None = None
    set: Name | None = None
    clip: Name | None = None
    title: Name | None = None
    speaker: Name | None = None
    listened_ms: Millis | None = None
    held_ms: Millis | None = None
    finished: bool | None = None
    message: Text | None = None
    reason: Text | None = None
    source: Name | None = None
    state: Name | None = None
    uri: Text | None = None
    # consent: the retired clips' cached paths deleted, and the active set's files dropped
    removed: Annotated[list[Name], Field(max_length=CONSENT_PATHS)] | None = None
    files: Annotated[list[Name], Field(max_length=CONSENT_PATHS)] | None = None
    # dial (digit, kind: rotary | keypad) and rating (digit or null, changed, answer_ms;
    # the clip and set, or the live call's source and call_id): docs/dial.md
    digit: Annotated[str, Field(pattern=f"^{DIGIT}$")] | None = None
    kind: Name | None = None
    changed: bool | None = None
    answer_ms: Millis | None = None

    @model_validator(mode="after")
    def _small_enough(self) -> Self:
        size = len(self.model_dump_json(exclude_unset=True).encode())
        if size > MAX_RECORD_BYTES:
            raise ValueError(f"record of {size} bytes: more than {MAX_RECORD_BYTES}")
        return self


class Heartbeat(_Record):
    """What a booth says about itself every heartbeat interval (every field optional)."""

    version: Name | None = None
    set: Name | None = None
    set_version: Count | None = None
    sync_state: Name | None = None
    sync_reason: Text | None = None
    last_lift: UnixTime | None = None
    audio_ok: bool | None = None
    hook_ok: bool | None = None
    disk_free_bytes: Count | None = None
    uptime_s: Annotated[float, Field(ge=0, le=MAX_UNIX_S)] | None = None
    sent_at: UnixTime | None = None
    clock_offset_s: Seconds | None = None
    events_dropped: Count | None = None
    queue_len: Count | None = None
    heartbeat_interval: Annotated[float, Field(ge=1, le=86400)] | None = None
    # Software updates (docs/updates.md): the release this concerns, and with rolled_back or
    # failed, why. The running version is `version`.
    update_state: UpdateState | None = None
    update_version: Name | None = None
    update_reason: Text | None = None


def reason(error: ValidationError) -> str:
    """A short, safe account of why a record was refused (input values are never echoed)."""
    parts = []
    for e in error.errors(include_input=False, include_url=False)[:3]:
        where = ".".join(str(p)[:64] for p in e["loc"]) or "record"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)[:500]


def readable_heartbeat(stored: str | None) -> dict[str, Any] | None:
    """A stored heartbeat as safe values, however it was stored (an old hub took anything):
    unreadable JSON is {"unreadable": True}, a field out of bounds is left out."""
    if not stored:
        return None
    try:
        hb = json.loads(stored)
    except (ValueError, RecursionError):
        return {"unreadable": True}
    if not isinstance(hb, dict):
        return {"unreadable": True}
    return fit_heartbeat(hb)
