"""The root helper's status file, read by the daemon (kiosk.release.manifest describes it).

Read-only here: the helper writes it atomically. A missing or unreadable file means no helper
has reported yet; a bad one is logged, never fatal.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from kiosk.fleet.status import BoothStatus

log = logging.getLogger(__name__)
HELPER_STATES = ("idle", "applying", "staged", "probation", "rolled_back", "failed")


@dataclass(frozen=True)
class HelperStatus:
    state: str = "idle"
    version: str = ""
    running: str = ""
    reason: str = ""
    bad: tuple[str, ...] = ()
    at: float = 0.0


def read_status(path: Path) -> HelperStatus | None:
    """The helper's status, or None if there is none (or it cannot be read)."""
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.warning("update.status_file %s: unreadable: %s", path, e)
        return None
    if not isinstance(doc, dict) or doc.get("state") not in HELPER_STATES:
        log.warning("update.status_file %s: not a helper status", path)
        return None
    bad = doc.get("bad", [])
    at = doc.get("at", 0)
    return HelperStatus(
        state=str(doc["state"]),
        version=str(doc.get("version", "")),
        running=str(doc.get("running", "")),
        reason=str(doc.get("reason", "")),
        bad=tuple(str(v) for v in bad) if isinstance(bad, list) else (),
        at=float(at) if isinstance(at, int | float) and not isinstance(at, bool) else 0.0,
    )


def update_fields(status: BoothStatus, helper: HelperStatus | None) -> dict[str, str]:
    """The heartbeat's update_state, update_version, update_reason.

    The daemon's own state (downloading, staged, failed) until the helper reports something
    newer than it (the helper took the request); an idle daemon never hides the helper's state.
    """
    if helper is not None and (status.update_state == "idle" or helper.at >= status.update_at):
        state, version, reason = helper.state, helper.version, helper.reason
    else:
        state, version, reason = status.update_state, status.update_version, status.update_reason
    return {"update_state": state, "update_version": version, "update_reason": reason}
