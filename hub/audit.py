"""The audit log: every change, who made it and when.

Publishes are described from the signed data itself (the set histories, the consent register,
the assignments), compared with the targets version before; "who" is the admin whose token
made the call, and the admin's own signed name (`by`) is kept in the detail.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from tuf.api.metadata import TargetFile, Targets

from hub.db import Database
from hub.stats import Reader
from kiosk.content.consent import CONSENT, ConsentRegister, parse_register
from kiosk.content.history import Version, parse_history
from kiosk.content.manifest import ASSIGNMENTS
from kiosk.errors import ConfigError
from kiosk.release.manifest import CHANNELS, Channels, parse_channels

Clock = Callable[[], float]
ReadTarget = Callable[[TargetFile], bytes]
T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    at: float
    actor: str
    action: str
    subject: str
    detail: str

    def to_dict(self) -> dict[str, object]:
        return {
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "detail": self.detail,
        }


class AuditLog:
    """The `audit` table (hub/db.py's schema). `clock` gives Unix seconds."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def record(
        self, actor: str, action: str, subject: str, detail: str = "", sets: Iterable[str] = ()
    ) -> None:
        """One entry; `sets` names the sets it concerns (the console's per-set log)."""
        tagged = "".join(f",{s}" for s in sorted(sets)) + ","
        with self._db.transaction() as cur:
            cur.execute(
                "INSERT INTO audit (at, actor, action, subject, detail, sets) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (self._clock(), actor, action, subject, detail[:2000], tagged),
            )

    def entries(self, limit: int = 100, set_name: str = "") -> list[Entry]:
        """The latest entries first; with `set_name`, those concerning that set."""
        return entries(self._db, limit, set_name)


def entries(db: Reader, limit: int = 100, set_name: str = "") -> list[Entry]:
    """Read the log through any reader (the dashboard's read-only connection)."""
    sql = "SELECT at, actor, action, subject, detail FROM audit"
    params: tuple[object, ...] = ()
    if set_name:
        sql += " WHERE sets LIKE ?"
        params = (f"%,{set_name},%",)
    rows = db.query(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
    return [Entry(float(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in rows]


@dataclass(frozen=True)
class Change:
    action: str
    subject: str
    detail: str
    sets: tuple[str, ...] = ()


def describe(old: Targets, new: Targets, read: ReadTarget) -> list[Change]:
    """Each change from `old` to `new` targets metadata."""
    changed = [info for path, info in new.targets.items() if old.targets.get(path) != info]
    versions: dict[str, Version] = {}
    for info in changed:
        if info.path.startswith("sets/") and info.path.endswith("/history.json"):
            history = _parse(parse_history, read, info)
            if history is not None and history.versions:
                versions[history.set] = history.versions[-1]
    out: list[Change] = []
    consent = new.targets.get(CONSENT)
    if consent is not None and old.targets.get(CONSENT) != consent:
        out += _consent_changes(old, consent, read, versions)
    for name, v in sorted(versions.items()):
        if v.action in ("publish", "rollback"):
            note = f": {v.note}" if v.note else ""
            detail = f"version {v.version}, {v.clips} clips{note} (signed by {v.by or '?'})"
            out.append(Change(v.action, f"set {name}", detail, (name,)))
    named = set(versions)
    for info in changed:  # set manifests published without a history (older kiosk-admin)
        if info.path.endswith("/clipset.json") and info.path.split("/")[1] not in named:
            name = info.path.split("/")[1]
            out.append(Change("publish", f"set {name}", "no history", (name,)))
    assignments = new.targets.get(ASSIGNMENTS)
    if assignments is not None and old.targets.get(ASSIGNMENTS) != assignments:
        before = _groups(old.targets.get(ASSIGNMENTS), read)
        for group, set_name in sorted(_groups(assignments, read).items()):
            if before.get(group) != set_name:
                detail = f"{group} plays set {set_name}"
                out.append(Change("assign", f"group {group}", detail, (set_name,)))
    return out + _release_changes(old, new, read)


def _release_changes(old: Targets, new: Targets, read: ReadTarget) -> list[Change]:
    """Channels moved and groups assigned a release (releases/channels.json)."""
    info = new.targets.get(CHANNELS)
    if info is None or old.targets.get(CHANNELS) == info:
        return []
    after = _parse(parse_channels, read, info)
    before_info = old.targets.get(CHANNELS)
    before = (_parse(parse_channels, read, before_info) if before_info else None) or Channels()
    if after is None:
        return []
    out = []
    for name, version in sorted(after.channels.items()):
        if before.channels.get(name) != version:
            out.append(Change("release", f"channel {name}", f"carries {version}"))
    for group, follow in sorted(after.groups.items()):
        if before.groups.get(group) != follow:
            out.append(Change("assign-release", f"group {group}", f"follows {follow}"))
    return out


def _consent_changes(
    old: Targets, info: TargetFile, read: ReadTarget, versions: dict[str, Version]
) -> list[Change]:
    new = _parse(parse_register, read, info) or ConsentRegister()
    before_info = old.targets.get(CONSENT)
    before = ConsentRegister()
    if before_info is not None:
        before = _parse(parse_register, read, before_info) or before
    out = []
    for r in new.retired:
        if r not in before.retired:
            sets = ", ".join(f"{s} v{versions[s].version}" if s in versions else s for s in r.sets)
            detail = (
                f"{r.title!r} - {r.speaker}: {r.reason} (from {sets}; "
                f"source sha256 {r.source_sha256 or r.source_key}; signed by {r.by or '?'})"
            )
            out.append(Change("retire", f"clip {r.file}", detail, r.sets))
    for back in new.reinstated:
        if back not in before.reinstated:
            names = tuple(s for s, v in versions.items() if v.action == "reinstate")
            sets = ", ".join(f"{s} v{versions[s].version}" for s in names)
            detail = f"{back.title!r} - {back.speaker}: {back.reason} (in {sets or '?'}; "
            detail += f"signed by {back.by or '?'})"
            out.append(Change("reinstate", f"clip {back.file}", detail, names))
    return out


def _groups(info: TargetFile | None, read: ReadTarget) -> dict[str, str]:
    if info is None:
        return {}
    try:
        return {str(k): str(v) for k, v in json.loads(read(info))["groups"].items()}
    except (ValueError, KeyError, TypeError, AttributeError, OSError):
        return {}


def _parse(parse: Callable[[bytes, str], T], read: ReadTarget, info: TargetFile) -> T | None:
    try:
        return parse(read(info), info.path)
    except (ConfigError, OSError):
        return None
