"""Where booth events go: journald fields, the simulator's JSON lines, later the hub outbox."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, Protocol, TextIO

log = logging.getLogger("kiosk.events")
_FIELD = {"message": "REASON"}


class EventSink(Protocol):
    def publish(self, record: dict[str, Any]) -> None: ...


class LogSink:
    """Logs each event once; under journald its keys become fields (EVENT, CLIP, LISTENED_MS)."""

    def publish(self, record: dict[str, Any]) -> None:
        # MESSAGE is journald's own field: an event's "message" travels as REASON.
        fields = {_FIELD.get(k, k.upper()): v for k, v in record.items() if v is not None}
        details = " ".join(f"{k}={v!r}" for k, v in record.items() if k not in ("event", "t"))
        level = logging.WARNING if record.get("event") == "error" else logging.INFO
        log.log(level, "%s %s", record.get("event"), details, extra=fields)


class JsonLinesSink:
    """One JSON object per line on `stream` (the headless simulator's stdout)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def publish(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, default=str)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()
