"""The relay's settings: `<data>/live.json`, each key overridable by an environment variable.

    {"twilio_auth_token": "...",          KIOSK_HUB_TWILIO_AUTH_TOKEN
     "audiohook_api_key": "...",          KIOSK_HUB_AUDIOHOOK_API_KEY
     "audiohook_client_secret": "...",    KIOSK_HUB_AUDIOHOOK_CLIENT_SECRET (base64)
     "public_url": "wss://hub.example.com",  KIOSK_HUB_PUBLIC_URL (what Twilio signs)
     "consent_param": "consent", "consent_value": "yes",
     "queues": [], "tags": [],            KIOSK_HUB_LIVE_QUEUES / _TAGS (comma-separated)
     "redis_url": ""}                     KIOSK_HUB_REDIS_URL (several hub workers)

An intake with no secret configured refuses every stream.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.errors import ConfigError

FILE = "live.json"
_STRINGS = {
    "twilio_auth_token": "KIOSK_HUB_TWILIO_AUTH_TOKEN",
    "audiohook_api_key": "KIOSK_HUB_AUDIOHOOK_API_KEY",
    "audiohook_client_secret": "KIOSK_HUB_AUDIOHOOK_CLIENT_SECRET",
    "public_url": "KIOSK_HUB_PUBLIC_URL",
    "consent_param": "KIOSK_HUB_LIVE_CONSENT_PARAM",
    "consent_value": "KIOSK_HUB_LIVE_CONSENT_VALUE",
    "redis_url": "KIOSK_HUB_REDIS_URL",
}
_LISTS = {"queues": "KIOSK_HUB_LIVE_QUEUES", "tags": "KIOSK_HUB_LIVE_TAGS"}


@dataclass(frozen=True)
class LiveHubSettings:
    twilio_auth_token: str = ""
    audiohook_api_key: str = ""
    audiohook_client_secret: str = ""
    public_url: str = ""  # scheme://host[:port] Twilio was given; "" = from the request
    consent_param: str = "consent"
    consent_value: str = "yes"
    redis_url: str = ""  # redis://host:6379/0: share calls with other hub workers
    queues: tuple[str, ...] = ()  # relay only calls in these queues ("" = any)
    tags: tuple[str, ...] = ()  # relay only calls with one of these tags ("" = any)
    backlog_ms: int = 500  # audio kept per call for a booth that starts listening
    booth_queue_frames: int = 250  # frames waiting for one slow booth before drops (5 s)
    revoked_check_s: float = 30.0  # a booth revoked while connected is cut off this soon

    def consented(self, params: Mapping[str, Any]) -> bool:
        return str(params.get(self.consent_param, "")) == self.consent_value

    def allowed(self, queue: str, tags: tuple[str, ...]) -> bool:
        if self.queues and queue not in self.queues:
            return False
        return not self.tags or any(t in self.tags for t in tags)


def load(data: Path, environ: Mapping[str, str] = os.environ) -> LiveHubSettings:
    """Defaults, overlaid by `<data>/live.json`, overlaid by the environment."""
    path = data / FILE
    values: dict[str, Any] = {}
    if path.exists():
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise ConfigError([f"{path}: unreadable: {e}"]) from e
        if not isinstance(raw, dict):
            raise ConfigError([f"{path}: expected a JSON object"])
        problems = []
        for key, value in raw.items():
            if key in _STRINGS and isinstance(value, str):
                values[key] = value
            elif (
                key in _LISTS and isinstance(value, list) and all(isinstance(v, str) for v in value)
            ):
                values[key] = tuple(value)
            elif key in ("backlog_ms", "booth_queue_frames") and isinstance(value, int):
                values[key] = value
            elif key == "revoked_check_s" and isinstance(value, int | float) and value > 0:
                values[key] = float(value)
            else:
                problems.append(f"{path}: {key}: unknown key or wrong type")
        if problems:
            raise ConfigError(problems)
    for key, var in _STRINGS.items():
        if environ.get(var):
            values[key] = environ[var]
    for key, var in _LISTS.items():
        if environ.get(var):
            values[key] = tuple(v.strip() for v in environ[var].split(",") if v.strip())
    return LiveHubSettings(**values)
