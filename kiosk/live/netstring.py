"""Netstring framing (`<length>:<payload>,`) of baresip's ctrl_tcp JSON messages. No I/O."""

from __future__ import annotations

import json
from typing import Any

from kiosk.errors import LiveError

# baresip's own messages are small; anything this long means the stream is out of step.
MAX_MESSAGE_BYTES = 1 << 20


def encode(message: dict[str, Any]) -> bytes:
    payload = json.dumps(message, separators=(",", ":")).encode()
    return b"%d:%s," % (len(payload), payload)


class Decoder:
    """Feed bytes as they arrive; `feed` returns every complete message, in order."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Raises LiveError on a malformed frame (the connection must then be dropped)."""
        self._buf += data
        messages: list[dict[str, Any]] = []
        while True:
            colon = self._buf.find(b":", 0, 12)
            if colon < 0:
                if len(self._buf) >= 12:
                    raise LiveError(f"netstring: no length prefix in {bytes(self._buf[:12])!r}")
                return messages
            head = bytes(self._buf[:colon])
            if not head.isdigit() or int(head) > MAX_MESSAGE_BYTES:
                raise LiveError(f"netstring: bad length {head!r}")
            end = colon + 1 + int(head)
            if len(self._buf) <= end:
                return messages
            if self._buf[end : end + 1] != b",":
                raise LiveError("netstring: missing ',' after the payload")
            payload = bytes(self._buf[colon + 1 : end])
            del self._buf[: end + 1]
            try:
                message = json.loads(payload)
            except ValueError as e:
                raise LiveError(f"netstring: payload is not JSON: {e}") from e
            if isinstance(message, dict):
                messages.append(message)
