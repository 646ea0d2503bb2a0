"""The booth's side of the records: fit what it writes to the hub's bounds, in plain Python.

The hub checks each record strictly with pydantic (kiosk.fleet.records `EventRecord`,
`Heartbeat`); the booth only fits what it writes (`fit_event`, `fit_heartbeat`: strings made
valid UTF-8 and cut, fields out of bounds left out) so the hub refuses only what was never a
booth's. This module holds the bounds both sides use and imports no pydantic, so a booth does
not pay its ~16 MiB. `FIELDS` mirrors the models field by field; a unit test checks the two
agree and that whatever the fitter makes passes the models.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

MAX_RECORD_BYTES = 4096  # one event's JSON
MAX_BATCH_BYTES = 1024 * 1024  # one upload's JSON body
MAX_BATCH_EVENTS = 1000  # events in one upload (fleet.batch_size is at most this)
MAX_HEARTBEAT_BYTES = 16 * 1024
MAX_EXTRAS = 24
MAX_TEXT = 1000  # a free-text field: an error message, a reason
MAX_NAME = 255  # a set or clip name, a title
MAX_UNIX_S = 2.0**32  # 2106: any later "wall clock" is wrong
MAX_COUNT = 2**53  # integers JSON carries exactly
MAX_MS = 10**10  # 115 days
MAX_MONOTONIC_S = 1e12  # an event's `t`
CONSENT_PATHS = 16  # paths in one consent event; more go in several (about 100 bytes each)
EVENT_NAME = r"[a-z][a-z0-9_]{0,31}"  # the models anchor these: ^...$
DIGIT = r"[0-9*#]"
UPDATE_STATES = ("idle", "downloading", "staged", "applying", "probation", "rolled_back", "failed")

_SURROGATE = re.compile("[\ud800-\udfff]")
_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class Spec:
    """One known field: its JSON type and bounds (strings: at most `size` characters, lists:
    at most `size` names; numbers: `low` to `high`). A `required` field cannot be null."""

    kind: Literal["str", "int", "float", "bool", "names"]
    size: int = 0
    low: float = 0
    high: float = 0
    pattern: str = ""
    choices: tuple[str, ...] = ()
    required: bool = False


NAME = Spec("str", MAX_NAME)
TEXT = Spec("str", MAX_TEXT)
UNIX_TIME = Spec("float", low=0, high=MAX_UNIX_S)
MILLIS = Spec("int", low=0, high=MAX_MS)
COUNT = Spec("int", low=0, high=MAX_COUNT)
BOOL = Spec("bool")
NAMES = Spec("names", CONSENT_PATHS)

EVENT_FIELDS: dict[str, Spec] = {
    "event": Spec("str", pattern=EVENT_NAME, required=True),
    "at": Spec("float", low=0, high=MAX_UNIX_S, required=True),
    "t": Spec("float", low=0, high=MAX_MONOTONIC_S),
    "set": NAME,
    "clip": NAME,
    "title": NAME,
    "speaker": NAME,
    "listened_ms": MILLIS,
    "held_ms": MILLIS,
    "finished": BOOL,
    "message": TEXT,
    "reason": TEXT,
    "source": NAME,
    "state": NAME,
    "uri": TEXT,
    "removed": NAMES,
    "files": NAMES,
    "digit": Spec("str", pattern=DIGIT),
    "kind": NAME,
    "changed": BOOL,
    "answer_ms": MILLIS,
}
HEARTBEAT_FIELDS: dict[str, Spec] = {
    "version": NAME,
    "set": NAME,
    "set_version": COUNT,
    "sync_state": NAME,
    "sync_reason": TEXT,
    "last_lift": UNIX_TIME,
    "audio_ok": BOOL,
    "hook_ok": BOOL,
    "disk_free_bytes": COUNT,
    "uptime_s": UNIX_TIME,
    "sent_at": UNIX_TIME,
    "clock_offset_s": Spec("float", low=-MAX_UNIX_S, high=MAX_UNIX_S),
    "events_dropped": COUNT,
    "queue_len": COUNT,
    "heartbeat_interval": Spec("float", low=1, high=86400),
    "update_state": Spec("str", choices=UPDATE_STATES),
    "update_version": NAME,
    "update_reason": TEXT,
}


def fit_event(fields: dict[str, Any], at: float) -> dict[str, Any] | None:
    """What the booth queues for one event stamped `at` (Unix s), or None if it cannot be
    made valid (no usable event name or time)."""
    return _fit(EVENT_FIELDS, {**fields, "at": at}, MAX_RECORD_BYTES)


def fit_heartbeat(fields: dict[str, Any]) -> dict[str, Any]:
    """A heartbeat the hub takes: fields it would refuse are cut or left out."""
    return _fit(HEARTBEAT_FIELDS, fields, None) or {}


def clean_text(text: str, limit: int = MAX_TEXT) -> str:
    """`text` as valid UTF-8 (lone surrogates replaced) and at most `limit` characters."""
    if not utf8(text):
        text = _SURROGATE.sub("\ufffd", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def extra_problem(key: object, value: object) -> str:
    """Why a field not named in the record cannot ride along ("" if it can)."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        return "not a field name (a-z, 0-9, _; at most 64)"
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            return f"longer than {MAX_TEXT} characters"
        return "" if utf8(value) else "not valid UTF-8"
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int):
        return "" if abs(value) <= MAX_COUNT else f"beyond ±{MAX_COUNT}"
    if isinstance(value, float):
        return "" if math.isfinite(value) else "not a finite number"
    return "not a string, number, boolean or null"


def json_bytes(record: dict[str, Any]) -> int:
    """The size of `record` as compact UTF-8 JSON (what the hub measures)."""
    return len(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode())


def _fits(spec: Spec, value: object) -> bool:
    if value is None:
        return not spec.required
    if spec.kind == "bool":
        return isinstance(value, bool)
    if spec.kind == "str":
        return (
            isinstance(value, str)
            and (not spec.size or len(value) <= spec.size)
            and (not spec.pattern or re.fullmatch(spec.pattern, value) is not None)
            and (not spec.choices or value in spec.choices)
            and utf8(value)
        )
    if spec.kind == "names":
        return (
            type(value) is list
            and len(value) <= spec.size
            and all(type(v) is str and _fits(NAME, v) for v in value)
        )
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if spec.kind == "int" and not isinstance(value, int):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return spec.low <= value <= spec.high


def _normal(known: dict[str, Spec], record: dict[str, Any]) -> dict[str, Any]:
    """`record` as the hub dumps it: a whole number in a float field becomes a float, a str
    subclass (a StrEnum) a plain str."""
    return {k: _plain(known.get(k), v) for k, v in record.items()}


def _plain(spec: Spec | None, value: Any) -> Any:
    if isinstance(value, str) and type(value) is not str:
        return value[:]
    if spec is not None and spec.kind == "float" and type(value) is int:
        return float(value)
    return value


def _problems(known: dict[str, Spec], record: dict[str, Any], max_bytes: int | None) -> bool:
    extras = [k for k in record if k not in known]
    return (
        any(s.required and k not in record for k, s in known.items())
        or any(not _fits(known[k], v) for k, v in record.items() if k in known)
        or len(extras) > MAX_EXTRAS
        or any(extra_problem(k, record[k]) for k in extras)
        or (max_bytes is not None and json_bytes(_normal(known, record)) > max_bytes)
    )


def _fit(
    known: dict[str, Spec], fields: dict[str, Any], max_bytes: int | None
) -> dict[str, Any] | None:
    """`fields` cut to the bounds: strings made valid UTF-8 and capped, extras and fields still
    out of bounds left out, then the longest strings halved until the record is small enough.
    None when a required field is refused."""
    if not _problems(known, fields, max_bytes):  # what the booth writes nearly always fits
        return _normal(known, fields)
    out: dict[str, Any] = {}
    for key, value in fields.items():
        spec = known.get(key) if isinstance(key, str) else None
        if isinstance(value, str):
            value = clean_text(value, spec.size if spec and spec.size else MAX_TEXT)
        elif isinstance(value, float) and not math.isfinite(value):
            continue
        if spec is not None:
            if _fits(spec, value):
                out[key] = value
            elif spec.required:
                return None
        elif len(out) < MAX_EXTRAS and not extra_problem(key, value):
            out[key] = value
    if any(s.required and k not in out for k, s in known.items()):
        return None
    out = _normal(known, out)
    for _ in range(256):  # each pass halves the longest string
        if max_bytes is None or json_bytes(out) <= max_bytes:
            return out
        texts = [k for k, v in out.items() if isinstance(v, str) and not _required(known, k)]
        if not texts:
            return None
        longest = max(texts, key=lambda k: len(out[k]))
        out[longest] = clean_text(out[longest], len(out[longest]) // 2)
    return None


def _required(known: dict[str, Spec], key: str) -> bool:
    spec = known.get(key)
    return spec is not None and spec.required
