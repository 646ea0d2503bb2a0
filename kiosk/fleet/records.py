"""The records a booth sends its hub: one definition, written by the booth, checked by the hub.

`EventRecord` is one queued event (`POST /api/v1/events`), `Heartbeat` one heartbeat
(`POST /api/v1/heartbeat`). Every field has bounds: numbers are finite and in a sane range,
strings are capped and valid UTF-8 (no lone surrogates), an event's JSON is at most
MAX_RECORD_BYTES. Fields not named here may ride along ("extras") if they are flat scalars
within the same bounds, so a newer booth can add a field without being refused.

The booth fits what it writes to these bounds (`fit_event`, `fit_heartbeat`: strings cut,
impossible numbers dropped), so the hub refuses only what was never a booth's. The hub
validates strictly (`EventRecord.model_validate`) and reads stored rows leniently
(`readable_heartbeat`), so an old bad row can never break a page. Only pydantic here: the booth
imports this module, and must not import FastAPI.
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

MAX_RECORD_BYTES = 4096  # one event's JSON
MAX_BATCH_BYTES = 1024 * 1024  # one upload's JSON body
MAX_HEARTBEAT_BYTES = 16 * 1024
MAX_EXTRAS = 24
MAX_TEXT = 1000  # a free-text field: an error message, a reason
MAX_NAME = 255  # a set or clip name, a title
MAX_UNIX_S = 2.0**32  # 2106: any later "wall clock" is wrong
MAX_COUNT = 2**53  # integers JSON carries exactly
MAX_MS = 10**10  # 115 days
CONSENT_PATHS = 16  # paths in one consent event; more go in several (about 100 bytes each)

_SURROGATE = re.compile("[\ud800-\udfff]")
_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")

UnixTime = Annotated[float, Field(ge=0, le=MAX_UNIX_S)]
Seconds = Annotated[float, Field(ge=-MAX_UNIX_S, le=MAX_UNIX_S)]
Millis = Annotated[int, Field(ge=0, le=MAX_MS)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Name = Annotated[str, Field(max_length=MAX_NAME)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
UpdateState = Literal[
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
            problem = _extra_problem(key, value)
            if problem:
                raise ValueError(f"{key[:64]!r}: {problem}")
        return self

    def dump(self) -> dict[str, Any]:
        """The record as JSON-ready values, without fields left unset."""
        return self.model_dump(mode="json", exclude_unset=True)


class EventRecord(_Record):
    """One booth event, as queued in the booth's outbox and stored by the hub."""

    event: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    at: UnixTime  # the booth's wall clock when the event was queued (Unix s)
    t: Annotated[float, Field(ge=0, le=1e12)] | None = None  # the booth's monotonic clock (s)
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
    digit: Annotated[str, Field(pattern=r"^[0-9*#]$")] | None = None
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


def _extra_problem(key: str, value: object) -> str:
    if not _KEY.fullmatch(key):
        return "not a field name (a-z, 0-9, _; at most 64)"
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            return f"longer than {MAX_TEXT} characters"
        return "" if _utf8(value) else "not valid UTF-8"
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int):
        return "" if abs(value) <= MAX_COUNT else f"beyond ±{MAX_COUNT}"
    if isinstance(value, float):
        return "" if math.isfinite(value) else "not a finite number"
    return "not a string, number, boolean or null"


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def reason(error: ValidationError) -> str:
    """A short, safe account of why a record was refused (input values are never echoed)."""
    parts = []
    for e in error.errors(include_input=False, include_url=False)[:3]:
        where = ".".join(str(p)[:64] for p in e["loc"]) or "record"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)[:500]


def clean_text(text: str, limit: int = MAX_TEXT) -> str:
    """`text` as valid UTF-8 (lone surrogates replaced) and at most `limit` characters."""
    if not _utf8(text):
        text = _SURROGATE.sub("\ufffd", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fit(model: type[_Record], fields: dict[str, Any]) -> dict[str, Any] | None:
    """`fields` cut to `model`'s bounds: strings made valid UTF-8 and capped, extras and fields
    the model still refuses left out, then the longest strings shortened until the record is
    small enough. None when a required field is refused."""
    try:  # what the booth writes nearly always fits as it is
        return model.model_validate(fields).dump()
    except ValidationError:
        pass
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if isinstance(value, str):
            value = clean_text(value)
        elif isinstance(value, float) and not math.isfinite(value):
            continue
        if key in model.model_fields or (len(out) < MAX_EXTRAS and not _extra_problem(key, value)):
            out[key] = value
    required = {n for n, f in model.model_fields.items() if f.is_required()}
    for _ in range(256):  # each pass fixes at least one field or halves a string
        try:
            return model.model_validate(out).dump()
        except ValidationError as e:
            errors = e.errors(include_url=False)
        for err in errors:
            key = str(err["loc"][0]) if err["loc"] else ""
            if key in required:
                return None
            if err["type"] == "string_too_long" and isinstance(out.get(key), str):
                out[key] = clean_text(out[key], int(err.get("ctx", {}).get("max_length", 1)))
            elif key:
                out.pop(key, None)
            else:  # the record as a whole is too large
                texts = [k for k, v in out.items() if isinstance(v, str) and k not in required]
                if not texts:
                    return None
                longest = max(texts, key=lambda k: len(out[k]))
                out[longest] = clean_text(out[longest], len(out[longest]) // 2)
    return None


def fit_event(fields: dict[str, Any], at: float) -> dict[str, Any] | None:
    """What the booth queues for one event stamped `at` (Unix s), or None if it cannot be
    made valid (no usable event name or time)."""
    return _fit(EventRecord, {**fields, "at": at})


def fit_heartbeat(fields: dict[str, Any]) -> dict[str, Any]:
    """A heartbeat the hub takes: fields it would refuse are cut or left out."""
    return _fit(Heartbeat, fields) or {}


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
