"""The booth's side of the hub's fleet API, over requests with timeouts.

Every error that leaves here is a FleetError: `status_code` is the hub's answer, or None when
the hub could not be reached. Secrets go only into headers and bodies, never into messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from kiosk import __version__
from kiosk.errors import KioskError
from kiosk.fleet.identity import Identity, normalise


class FleetError(KioskError, OSError):
    """A fleet call failed; `status_code` is None when the hub could not be reached."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class HubLimits:
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 20.0


@dataclass(frozen=True)
class Upload:
    """The hub's answer to one batch: ids it holds now, and ids it will never take."""

    acked: list[str]
    new: int
    rejected: dict[str, str]


def _call(
    session: requests.Session, method: str, url: str, limits: HubLimits, **kw: Any
) -> dict[str, Any]:
    timeout = (limits.connect_timeout_s, limits.read_timeout_s)
    try:
        resp = session.request(method, url, timeout=timeout, **kw)
    except requests.RequestException as e:
        raise FleetError(f"cannot reach {url}: {type(e).__name__}") from e
    if resp.status_code != 200:
        detail = resp.text[:200].replace("\n", " ")
        raise FleetError(f"{url}: HTTP {resp.status_code}: {detail}", resp.status_code)
    try:
        body = resp.json()
    except ValueError as e:
        raise FleetError(f"{url}: not JSON", resp.status_code) from e
    if not isinstance(body, dict):
        raise FleetError(f"{url}: expected a JSON object", resp.status_code)
    return body


def enroll(hub: str, token: str, limits: HubLimits | None = None) -> Identity:
    """Trade a one-time enrollment token for this booth's id and credential."""
    hub = normalise(hub)
    with requests.Session() as session:
        session.headers["User-Agent"] = f"kiosk/{__version__}"
        body = _call(
            session, "POST", f"{hub}/api/v1/enroll", limits or HubLimits(), json={"token": token}
        )
    booth_id, credential = body.get("booth_id"), body.get("credential")
    if not isinstance(booth_id, str) or not isinstance(credential, str):
        raise FleetError(f"{hub}/api/v1/enroll: no booth_id and credential in the answer", 200)
    return Identity(hub, booth_id, credential)


class HubClient:
    """One enrolled booth talking to its hub (used by the fleet thread only)."""

    def __init__(
        self,
        identity: Identity,
        limits: HubLimits | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.hub = identity.hub
        self.limits = limits or HubLimits()
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {identity.credential}"
        self.session.headers["User-Agent"] = f"kiosk/{__version__}"

    def heartbeat(self, body: dict[str, Any]) -> dict[str, Any]:
        return _call(self.session, "POST", f"{self.hub}/api/v1/heartbeat", self.limits, json=body)

    def upload(self, events: list[tuple[str, dict[str, Any]]]) -> Upload:
        payload = {"events": [{"id": id_, "record": record} for id_, record in events]}
        body = _call(self.session, "POST", f"{self.hub}/api/v1/events", self.limits, json=payload)
        acked, rejected = body.get("acked"), body.get("rejected") or {}
        if not isinstance(acked, list) or not isinstance(rejected, dict):
            raise FleetError(f"{self.hub}/api/v1/events: no 'acked' list in the answer", 200)
        return Upload([str(a) for a in acked], int(body.get("new") or 0), rejected)

    def close(self) -> None:
        self.session.close()
