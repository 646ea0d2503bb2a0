"""Signed changes other than a publish: retire a clip (consent), roll a set back, read what is
retired and what expires. Each is one new targets version, signed once on this machine."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from pathlib import Path

from securesystemslib.signer import Signer
from tuf.api.metadata import TargetFile

from kiosk.admin.consent import put_register, read_register
from kiosk.admin.destination import Destination
from kiosk.admin.publishing import current_manifest, next_targets, read_history, stage_manifest
from kiosk.content.consent import Retirement
from kiosk.content.manifest import (
    ASSIGNMENTS,
    ManifestClip,
    SetManifest,
    parse_manifest,
    set_target,
)
from kiosk.content.repository import RepositoryError, utcnow

EXPIRY_WARNING_DAYS = 30


@dataclass(frozen=True)
class Retired:
    retirement: Retirement
    versions: dict[str, int]  # set -> its new version without the clip


def sets_of(dest: Destination) -> dict[str, SetManifest]:
    """Every published set's current manifest, by name."""
    out = {}
    for path in sorted(dest.current_targets().signed.targets):
        if path.startswith("sets/") and path.endswith("/clipset.json"):
            name = path.split("/")[1]
            manifest = current_manifest(dest, name)
            if manifest is not None:
                out[name] = manifest
    return out


def retire(
    dest: Destination,
    signer: Signer,
    set_name: str,
    clip: str,
    reason: str,
    by: str,
    all_sets: bool = False,
) -> Retired:
    """Record the clip's retirement in the consent register and publish every set that has it
    without it, in one signed targets version. A clip that other sets also play needs
    `all_sets` (consent ends everywhere at once, or the admin is told where else it plays)."""
    if not reason.strip():
        raise RepositoryError("retire needs --reason: the register records why")
    current = dest.current_targets()
    sets = sets_of(dest)
    manifest = sets.get(set_name)
    if manifest is None:
        raise LookupError(f"no set {set_name!r}")
    entry = next((c for c in manifest.clips if clip in (c.file, Path(c.file).stem)), None)
    if entry is None:
        raise LookupError(f"set {set_name!r} has no clip {clip!r}")
    info = current.signed.targets.get(entry.target)
    custom = info.custom if info is not None and isinstance(info.custom, dict) else {}
    key = str(custom.get("source_sha256", ""))
    # The same source under other loudness settings is another target: retire those too.
    targets = {entry.target} | {
        t.path
        for t in current.signed.targets.values()
        if key and isinstance(t.custom, dict) and t.custom.get("source_sha256") == key
    }
    holding = {name: m for name, m in sets.items() if any(c.target in targets for c in m.clips)}
    others = sorted(set(holding) - {set_name})
    if others and not all_sets:
        raise RepositoryError(
            f"{entry.file} is also in set(s) {', '.join(others)}: add --all-sets to retire it "
            "from every set in one signed change"
        )
    retirement = Retirement(
        source_sha256=str(custom.get("source_file_sha256", "")),
        source_key=key,
        targets=tuple(sorted(targets)),
        file=entry.file,
        title=entry.title,
        speaker=entry.speaker,
        reason=reason.strip(),
        by=by,
        at=utcnow().isoformat(),
        sets=tuple(sorted(holding)),
    )
    register = read_register(dest, current)
    new = next_targets(current)
    put_register(dest, new, replace(register, retired=(*register.retired, retirement)))
    versions = {}
    for name, m in holding.items():
        kept = tuple(c for c in m.clips if c.target not in targets)
        note = f"{entry.file}: {retirement.reason}"
        versions[name] = stage_manifest(dest, new, name, m, kept, by, "retire", note)
    new.sign(signer)
    dest.publish(new)
    return Retired(retirement, versions)


@dataclass(frozen=True)
class RolledBack:
    version: int  # the new version
    left_out: tuple[str, ...]  # retired clips of the old version, not brought back


def rollback(dest: Destination, signer: Signer, set_name: str, version: int, by: str) -> RolledBack:
    """Publish the manifest of an earlier `version` as the next version; consent wins: clips
    the register retires stay out."""
    current = dest.current_targets()
    previous = current_manifest(dest, set_name)
    if previous is None:
        raise LookupError(f"no set {set_name!r}")
    history = read_history(dest, current, set_name)
    entry = history.find(version)
    if entry is None:
        known = ", ".join(str(v.version) for v in history.versions) or "none"
        raise LookupError(f"set {set_name!r} has no version {version} in its history ({known})")
    info = TargetFile(
        entry.manifest_length, {"sha256": entry.manifest_sha256}, set_target(set_name)
    )
    old = parse_manifest(dest.read_target(info), info.path)
    retired = read_register(dest, current).retired_sha256s()
    kept = tuple(c for c in old.clips if c.sha256 not in retired)
    missing = [c.file for c in kept if c.target not in current.signed.targets]
    if missing:
        raise RepositoryError(f"version {version}: targets no longer published: {missing}")
    left_out = tuple(c.file for c in old.clips if c.sha256 in retired)
    note = f"from version {version}"
    if left_out:
        note += f"; retired clips left out: {', '.join(left_out)}"
    new = next_targets(current)
    number = stage_manifest(dest, new, set_name, previous, kept, by, "rollback", note)
    new.sign(signer)
    dest.publish(new)
    return RolledBack(number, left_out)


def consent_lines(dest: Destination, today: dt.date) -> list[str]:
    """`kiosk-admin consent`: what is retired, then every clip's consent expiry (flagged
    within EXPIRY_WARNING_DAYS)."""
    register = read_register(dest, dest.current_targets())
    lines = [f"retired ({len(register.retired)}):"]
    for r in register.retired:
        lines.append(
            f"  {r.file}\t{r.title!r} - {r.speaker}\tretired {r.at[:10]} by {r.by or '?'}: "
            f"{r.reason}\tsource sha256 {r.source_sha256 or r.source_key}"
        )
    for back in register.reinstated:
        lines.append(
            f"  (reinstated {back.at[:10]} by {back.by or '?'}: {back.file}: {back.reason})"
        )
    lines.append("expiry of consent:")
    for name, manifest in sets_of(dest).items():
        for clip in manifest.clips:
            lines.append(f"  {name}/{clip.file}\t{expiry_text(clip, today)}")
    return lines


def expiry_text(clip: ManifestClip, today: dt.date) -> str:
    """ "no expiry", "expires 2027-01-05", or a flagged "EXPIRES IN 12 DAYS (2026-12-12)"."""
    if clip.expires is None:
        return "no expiry"
    days = (clip.expires - today).days
    if days < 0:
        return f"EXPIRED {clip.expires}"
    if days <= EXPIRY_WARNING_DAYS:
        return f"EXPIRES IN {days} DAYS ({clip.expires})"
    return f"expires {clip.expires}"


def assignments(dest: Destination) -> dict[str, str]:
    """Booth group -> set, from the signed assignments.json."""
    info = dest.current_targets().signed.targets.get(ASSIGNMENTS)
    if info is None:
        return {}
    return dict(json.loads(dest.read_target(info))["groups"])
