"""Events as journald fields through systemd-python's real JournalHandler, and as JSON lines."""

import importlib
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from kiosk.eventlog import JsonLinesSink, LogSink

journal: Any = importlib.import_module("systemd.journal")


@pytest.fixture
def sent() -> Iterator[list[dict[str, Any]]]:
    captured: list[dict[str, Any]] = []

    def sender(MESSAGE: str, **fields: Any) -> None:  # the real send() names it so
        captured.append({"MESSAGE": MESSAGE, **fields})

    handler = journal.JournalHandler(sender_function=sender, SYSLOG_IDENTIFIER="kiosk")
    log = logging.getLogger("kiosk.events")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield captured
    log.removeHandler(handler)


def test_events_become_structured_journal_fields(sent: list[dict[str, Any]]) -> None:
    LogSink().publish(
        {"event": "clip_end", "t": 1.5, "clip": "maria.ogg", "listened_ms": 4200, "finished": False}
    )
    (entry,) = sent
    assert entry["EVENT"] == "clip_end" and entry["CLIP"] == "maria.ogg"
    assert entry["LISTENED_MS"] == 4200 and entry["FINISHED"] is False
    assert entry["MESSAGE"] == "clip_end clip='maria.ogg' listened_ms=4200 finished=False"
    assert entry["PRIORITY"] == str(journal.LOG_INFO)


def test_error_message_travels_as_reason_at_warning(sent: list[dict[str, Any]]) -> None:
    LogSink().publish({"event": "error", "t": 2.0, "clip": "x.ogg", "message": "x.ogg: empty"})
    (entry,) = sent
    assert entry["REASON"] == "x.ogg: empty" and entry["EVENT"] == "error"
    assert entry["PRIORITY"] == str(journal.LOG_WARNING)


def test_json_lines() -> None:
    out = io.StringIO()
    sink = JsonLinesSink(out)
    sink.publish({"event": "lift", "t": 3.25})
    sink.publish({"event": "hangup", "t": 4.0, "held_ms": 750})
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines == [{"event": "lift", "t": 3.25}, {"event": "hangup", "t": 4.0, "held_ms": 750}]
