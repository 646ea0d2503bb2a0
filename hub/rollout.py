"""The fleet's software: which version each booth runs, where its update stands, and each
channel's rollout, for the dashboard and /metrics.

Counts come from the `booths` columns `version`, `update_state` and `update_version` (migration
2, kept from each heartbeat), grouped in SQL; only the failed booths' heartbeats are parsed, for
their reasons. The channels are the signed `releases/channels.json` in the hub's repository
(kiosk.release.manifest); without it, versions only. Revoked booths are left out.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from hub.stats import Reader
from kiosk.fleet.records import clean_text, readable_heartbeat
from kiosk.release.manifest import CHANNEL_NAMES, Channels

log = logging.getLogger(__name__)
UNKNOWN = "unknown"  # a booth that never said (an older booth, or none since enrolment)
IN_PROGRESS = ("downloading", "staged", "applying", "probation")
FAILED = ("rolled_back", "failed")
MAX_FAILURES = 50


@dataclass(frozen=True)
class Failure:
    """A booth whose last heartbeat says its update was rolled back or failed."""

    booth_id: str
    name: str
    group: str
    state: str
    version: str  # the release concerned
    reason: str


@dataclass
class Rollout:
    """One channel's (or one pin's) booths: `version` is what they should run."""

    name: str  # "stable", "canary", or "pinned"
    version: str | None
    groups: list[str] = field(default_factory=list)
    booths: int = 0
    by_version: Counter[str] = field(default_factory=Counter)
    by_state: Counter[str] = field(default_factory=Counter)

    @property
    def on_target(self) -> int:
        return self.by_version[self.version] if self.version else 0

    @property
    def in_progress(self) -> dict[str, int]:
        return {s: self.by_state[s] for s in IN_PROGRESS}

    @property
    def failed(self) -> int:
        return sum(self.by_state[s] for s in FAILED)


@dataclass(frozen=True)
class Software:
    """The whole fleet's software, as the dashboard and /metrics show it."""

    by_version: Counter[str]
    by_state: Counter[str]
    rollouts: list[Rollout]
    failures: list[Failure]
    channels: dict[str, str]  # channel -> version, from the signed channels.json


def _label(value: object) -> str:
    return clean_text(value, 64) if isinstance(value, str) and value else UNKNOWN


def software(db: Reader, channels: Channels | None) -> Software:
    """Counts by version and update state, per channel when `channels` is known."""
    rows = db.query(
        "SELECT grp, version, update_state, COUNT(*) FROM booths WHERE revoked_at IS NULL "
        "GROUP BY grp, version, update_state"
    )
    by_version: Counter[str] = Counter()
    by_state: Counter[str] = Counter()
    rollouts: dict[str, Rollout] = {}
    if channels is not None:
        for name in CHANNEL_NAMES:
            if name in channels.channels:
                rollouts[name] = Rollout(name, channels.channels[name])
    for grp, version, state, count in rows:
        version, state, n = _label(version), _label(state), int(count)
        by_version[version] += n
        by_state[state] += n
        if channels is None:
            continue
        follow = channels.groups.get(str(grp), channels.default)
        key = follow if follow in CHANNEL_NAMES else f"pinned {follow}"
        rollout = rollouts.setdefault(
            key, Rollout(key, channels.channels.get(follow) if follow in CHANNEL_NAMES else follow)
        )
        if grp not in rollout.groups:
            rollout.groups.append(str(grp))
        rollout.booths += n
        rollout.by_version[version] += n
        rollout.by_state[state] += n
    return Software(
        by_version,
        by_state,
        list(rollouts.values()),
        failures(db),
        dict(channels.channels) if channels is not None else {},
    )


def failures(db: Reader, limit: int = MAX_FAILURES) -> list[Failure]:
    """Booths whose update was rolled back or failed, with the reason their heartbeat gives."""
    rows = db.query(
        "SELECT id, name, grp, update_state, update_version, heartbeat FROM booths "
        "WHERE revoked_at IS NULL AND update_state IN (?, ?) ORDER BY grp, name LIMIT ?",
        (*FAILED, limit),
    )
    out = []
    for booth_id, name, grp, state, version, heartbeat in rows:
        hb = readable_heartbeat(heartbeat) or {}  # an old or odd row: never a failed page
        reason = hb.get("update_reason")
        out.append(
            Failure(
                str(booth_id),
                str(name),
                str(grp),
                str(state),
                _label(version),
                reason if isinstance(reason, str) else "",
            )
        )
    return out
