"""The hub with its live relay configured (by environment, as an admin would), and booths
enrolled on it, for tests/integration/test_live_hub.py and bench/live_hub.py."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import requests

from kiosk.fleet import identity
from tests.hubproc import HubProcess, init_hub_data

TWILIO_TOKEN = "twilio-auth-token-for-tests"
AUDIOHOOK_KEY = "audiohook-api-key-for-tests"
AUDIOHOOK_SECRET = base64.b64encode(b"audiohook client secret for tests").decode()
CONSENT = {"consent": "yes"}


def live_hub(
    tmp_path: Path, secret: bool = True, file: dict[str, Any] | None = None, **env: str
) -> HubProcess:
    """A started hub whose relay takes Twilio and AudioHook streams signed with the keys
    above (AudioHook signatures required when `secret`)."""
    return live_hubs(tmp_path, 1, secret, file, **env)[0]


def live_hubs(
    tmp_path: Path,
    count: int,
    secret: bool = True,
    file: dict[str, Any] | None = None,
    **env: str,
) -> list[HubProcess]:
    """`count` hub processes (workers) on one data folder; give them KIOSK_HUB_REDIS_URL to
    share calls; `file` is written as `<data>/live.json`. Each is started; stop every one."""
    data = init_hub_data(tmp_path / "hub-data", tmp_path / "keys")
    if file is not None:
        (data / "live.json").write_text(json.dumps(file))
    settings = {
        "KIOSK_HUB_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "KIOSK_HUB_AUDIOHOOK_API_KEY": AUDIOHOOK_KEY,
        **({"KIOSK_HUB_AUDIOHOOK_CLIENT_SECRET": AUDIOHOOK_SECRET} if secret else {}),
        **env,
    }
    hubs: list[HubProcess] = []
    try:
        for _ in range(count):
            hubs.append(HubProcess(data, env=settings).start())
    except BaseException:
        for hub in hubs:
            hub.stop()
        raise
    return hubs


def enroll(hub: HubProcess, name: str = "b1") -> identity.Identity:
    """A booth credential from the hub's real enrollment API."""
    admin = {"Authorization": f"Bearer {hub.token}"}
    token = requests.post(
        f"{hub.url}/api/v1/booths", json={"group": "lobby", "name": name}, headers=admin, timeout=10
    ).json()["token"]
    body = requests.post(f"{hub.url}/api/v1/enroll", json={"token": token}, timeout=10).json()
    return identity.Identity(hub.url, body["booth_id"], body["credential"])


def enroll_into(hub: HubProcess, state_dir: Path, name: str = "b1") -> identity.Identity:
    me = enroll(hub, name)
    state_dir.mkdir(parents=True, exist_ok=True)
    identity.save(state_dir, me)
    return me


def live_counters(hub: HubProcess) -> dict[str, int]:
    admin = {"Authorization": f"Bearer {hub.token}"}
    body = requests.get(f"{hub.url}/api/v1/live", headers=admin, timeout=10).json()
    counters: dict[str, int] = body["counters"]
    return counters
