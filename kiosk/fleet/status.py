"""What the main loop tells the fleet thread about the booth (replaced whole, never mutated)."""

from __future__ import annotations

from dataclasses import dataclass


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
    update_state: str = "idle"  # the daemon's own: idle | downloading | staged | failed
    update_version: str = ""
    update_reason: str = ""
    update_at: float = 0.0  # when the daemon's update state last changed (Unix s)
