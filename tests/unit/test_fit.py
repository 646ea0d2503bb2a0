"""The booth's plain fitter (kiosk.fleet.fit) against the hub's pydantic models
(kiosk.fleet.records): whatever the booth fits, from any input, the hub takes; and the fitter
gives what the pydantic-based fitter it replaced gave."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import typing
from typing import Any

import pytest
from pydantic import ValidationError

from kiosk.fleet import fit
from kiosk.fleet.records import EventRecord, Heartbeat, _Record


def _old_fit(model: type[_Record], fields: dict[str, Any]) -> dict[str, Any] | None:
    """The pydantic-based fitter the booth used before kiosk.fleet.fit (the reference)."""
    try:
        return model.model_validate(fields).dump()
    except ValidationError:
        pass
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if isinstance(value, str):
            value = fit.clean_text(value)
        elif isinstance(value, float) and not math.isfinite(value):
            continue
        if key in model.model_fields or (
            len(out) < fit.MAX_EXTRAS and not fit.extra_problem(key, value)
        ):
            out[key] = value
    required = {n for n, f in model.model_fields.items() if f.is_required()}
    for _ in range(256):
        try:
            return model.model_validate(out).dump()
        except ValidationError as e:
            errors = e.errors(include_url=False)
        for err in errors:
            key = str(err["loc"][0]) if err["loc"] else ""
            if key in required:
                return None
            if err["type"] == "string_too_long" and isinstance(out.get(key), str):
                out[key] = fit.clean_text(out[key], int(err.get("ctx", {}).get("max_length", 1)))
            elif key:
                out.pop(key, None)
            else:
                texts = [k for k, v in out.items() if isinstance(v, str) and k not in required]
                if not texts:
                    return None
                longest = max(texts, key=lambda k: len(out[k]))
                out[longest] = fit.clean_text(out[longest], len(out[longest]) // 2)
    return None


# The cases of tests/unit/test_records.py, and a few more the booth writes.
EVENTS: list[dict[str, Any]] = [
    {"event": "clip_end", "set": "\ud800", "listened_ms": 10**31, "finished": True},
    {"event": "error", "message": "m" * 50_000, "title": math.inf},
    {"event": "lift", **{f"f{i}": "z" * 999 for i in range(40)}},
    {"event": "sync", "nested": {"a": [1]}, "Bad-Key": 1, "version": 7},
    {"event": "Not A Name"},
    {"message": "no event"},
    {"event": "lift", "t": math.nan},
    {"event": "lift", "t": 12},
    {"event": "consent", "t": 1.0, "removed": [f"c/{i}.opus" for i in range(16)], "files": []},
    {"event": "consent", "removed": [f"c/{i}.opus" for i in range(17)], "files": ["x" * 256]},
    {"event": "dial", "t": 3.0, "digit": "0", "kind": "rotary"},
    {"event": "dial", "digit": "12", "kind": "k" * 300},
    {"event": "rating", "t": 4.0, "digit": None, "changed": False, "answer_ms": None},
    {"event": "error", "n": 5, "message": "m" * 1000, "reason": "r" * 1000},
]
HEARTBEATS: list[dict[str, Any]] = [
    {"last_lift": 1e300, "set": "a\ud800", "queue_len": 3, "extra_one": "y"},
    {"last_lift": 1e300, "audio_ok": False},
    {"version": "1.2", "set_version": 3, "uptime_s": 5, "heartbeat_interval": 0.5},
    {"update_state": "staged", "update_version": "v" * 300, "clock_offset_s": -12.5},
    {"update_state": "exploded", "disk_free_bytes": -1, "events_dropped": True},
]


@pytest.mark.parametrize("fields", EVENTS)
def test_the_booth_fitter_agrees_with_the_old_one_on_events(fields: dict[str, Any]) -> None:
    assert fit.fit_event(fields, 1.7e9) == _old_fit(EventRecord, {**fields, "at": 1.7e9})


@pytest.mark.parametrize("fields", HEARTBEATS)
def test_the_booth_fitter_agrees_with_the_old_one_on_heartbeats(fields: dict[str, Any]) -> None:
    assert fit.fit_heartbeat(fields) == (_old_fit(Heartbeat, fields) or {})


def test_the_bounds_are_the_models_fields() -> None:
    """kiosk.fleet.fit mirrors the models field by field: same names, same required ones."""
    for model, known in ((EventRecord, fit.EVENT_FIELDS), (Heartbeat, fit.HEARTBEAT_FIELDS)):
        assert list(model.model_fields) == list(known)
        required = {n for n, f in model.model_fields.items() if f.is_required()}
        assert required == {n for n, s in known.items() if s.required}
    hint = typing.get_type_hints(Heartbeat)["update_state"]
    assert typing.get_args(typing.get_args(hint)[0]) == fit.UPDATE_STATES


_KEYS = [*fit.EVENT_FIELDS, *fit.HEARTBEAT_FIELDS, "x", "extra_1", "Bad-Key", "", "a" * 70, 3]
_TEXTS = ["", "ok", "\ud800", "é" * 300, "z" * 1001, "0", "*", "lift", "staged", 'a\x00\n"b']


def _hostile(rng: random.Random) -> object:
    """One value of any kind a buggy caller or a hostile row might hold."""
    pick = rng.randrange(16)
    if pick < 4:
        text = rng.choice(_TEXTS)
        return text * rng.choice([1, 1, 2, 5, 40])
    values: list[object] = [
        None,
        True,
        False,
        rng.randint(-(2**60), 2**60),
        rng.choice([0, 1, 5, 10**10, 10**400, -3, 2**53, 2**53 + 1]),
        rng.choice([math.nan, math.inf, -math.inf, 1e300, -0.0, 0.5, 1.7e9, 2.0**32 + 1, 1e12]),
        [rng.choice(_TEXTS) for _ in range(rng.randrange(20))],
        {"a": [1]},
        b"bytes",
        (1, 2),
    ]
    return values[pick - 4] if pick - 4 < len(values) else rng.random() * 10 ** rng.randrange(14)


def _record(rng: random.Random) -> dict[Any, Any]:
    return {rng.choice(_KEYS): _hostile(rng) for _ in range(rng.randrange(40))}


@pytest.mark.parametrize("seed", range(8))
def test_whatever_the_booth_fits_the_hub_takes(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(300):
        fields = _record(rng)
        if rng.random() < 0.7:
            fields["event"] = rng.choice(["lift", "clip_end", "error", "Bad", 5, None])
        at = rng.choice([1.7e9, 0, 2.0**33, math.nan, -1.0, True])
        event = fit.fit_event(fields, at)
        if event is not None:
            wire = json.loads(json.dumps(event, ensure_ascii=False).encode())
            assert EventRecord.model_validate(wire).dump() == event
            assert fit.json_bytes(event) <= fit.MAX_RECORD_BYTES
        if all(isinstance(k, str) for k in fields):  # the old fitter raised on other keys
            assert event == _old_fit(EventRecord, {**fields, "at": at})
        beat = fit.fit_heartbeat(fields)
        wire = json.loads(json.dumps(beat, ensure_ascii=False).encode())
        assert Heartbeat.model_validate(wire).dump() == beat


def test_the_booth_imports_no_pydantic() -> None:
    """The booth fits with kiosk.fleet.fit; pydantic (~16 MiB with the models) is the hub's."""
    code = (
        "import sys, kiosk.cli, kiosk.app, kiosk.outbox, kiosk.fleet.worker, kiosk.simulate\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
