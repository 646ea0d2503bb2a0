"""The access log never holds a secret: query values are logged as "…" except those known to
be harmless (a target's sha256, a page's day count). Tokens belong in headers, which uvicorn
never logs; one sent in a query string by mistake is not kept either."""

from __future__ import annotations

import copy
import logging
import urllib.parse
from typing import Any

SAFE_QUERY = frozenset({"sha256", "days"})


def redact(path: str) -> str:
    """`path` with every query value not in SAFE_QUERY replaced by "…"."""
    base, sep, query = path.partition("?")
    if not sep:
        return path
    kept = []
    for part in query.split("&"):
        key, eq, _ = part.partition("=")
        name = urllib.parse.unquote_plus(key)
        kept.append(part if name in SAFE_QUERY else f"{key}{eq}…" if eq else "…")
    return f"{base}?{'&'.join(kept)}"


class RedactQuery(logging.Filter):
    """For uvicorn's access logger, whose args are (client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], redact(args[2]), args[3], args[4])
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with the access log redacted."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_query"] = {"()": RedactQuery}
    config["handlers"]["access"]["filters"] = ["redact_query"]
    return config
