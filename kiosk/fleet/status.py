"""What the main loop tells the fleet thread about the booth (replaced whole, never mutated)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BoothStatus:
    """Published by the main loop; read by the heartbeat (fleet thread). Times: Unix s."""

    set: str = ""
    set_version: int | None = None
    sync_state: str = "off"  # ok | stale | error | off
    sync_reason: str = ""
    last_lift: float | None = None
    audio_ok: bool = False
    hook_ok: bool = False  # the hook pin was read, or an edge seen since start


def set_version_of(folder: Path | None) -> int | None:
    """The version in a staged set folder's name (`<set>-v<version>`, kiosk/sync/store.py)."""
    match = re.search(r"-v(\d+)$", folder.name) if folder is not None else None
    return int(match.group(1)) if match else None
