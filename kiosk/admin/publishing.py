"""Publish a clip-set folder, or assign a set to a group, through a Destination (folder or hub).

Every set version also goes into the set's signed history (kiosk.content.history)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from securesystemslib.signer import Signer
from tuf.api.metadata import Metadata, Targets

from kiosk.admin.consent import check_sources, put_register, read_register
from kiosk.admin.destination import Destination
from kiosk.admin.publish import Loudness, encode_set, read_folder
from kiosk.content.history import SetHistory, Version, diff_clips, history_target, parse_history
from kiosk.content.manifest import (
    ASSIGNMENTS,
    ManifestClip,
    SetManifest,
    parse_manifest,
    set_target,
)
from kiosk.content.repository import EXPIRY, utcnow

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Published:
    name: str
    version: int
    clips: int
    new_clips: int
    new_bytes: int
    warnings: tuple[str, ...]
    changes: tuple[str, ...] = ()  # what differs from the previous version (diff_clips)


def next_targets(current: Metadata[Targets]) -> Metadata[Targets]:
    """A copy of the current targets metadata as the next version, unsigned."""
    md = Metadata[Targets].from_bytes(current.to_bytes())
    md.signatures.clear()
    md.signed.version += 1
    md.signed.expires = utcnow() + EXPIRY["targets"]
    return md


def current_manifest(dest: Destination, name: str) -> SetManifest | None:
    info = dest.current_targets().signed.targets.get(set_target(name))
    if info is None:
        return None
    return parse_manifest(dest.read_target(info), info.path)


def publish(
    folder: Path,
    name: str,
    dest: Destination,
    targets_signer: Signer,
    loudness: Loudness,
    today: dt.date,
    progress: Progress = lambda _: None,
    by: str = "",
    reinstate: Mapping[str, str] | None = None,
    dry_run: bool = False,
) -> Published:
    """Encode `folder` and publish it as the next version of set `name`.

    Nothing is published unless every file is good and none is retired in the consent register
    (kiosk.admin.consent); `reinstate` maps a retired file to the recorded reason for playing
    it again. Clips the destination already has are neither encoded nor uploaded again. With
    `dry_run`, everything is checked and encoded, nothing is uploaded.
    """
    clipset, warnings = read_folder(folder, today)
    current = dest.current_targets()
    register = read_register(dest, current)
    checked = check_sources(clipset, register, loudness, reinstate or {}, by, utcnow())
    warnings += checked.warnings
    targets = next_targets(current)
    encoded = encode_set(clipset, targets.signed.targets, loudness)
    previous = current_manifest(dest, name)
    clips = tuple(c.entry for c in encoded)
    changes = tuple(diff_clips(previous.clips if previous else (), clips))
    new = sum(1 for c in encoded if c.data is not None)
    if dry_run:
        new_bytes = sum(len(c.data) for c in encoded if c.data is not None)
        version = (previous.version + 1) if previous else 1
        if previous is not None and previous.clips == clips and not checked.reinstated:
            version = previous.version
        return Published(name, version, len(clips), new, new_bytes, tuple(warnings), changes)
    new_bytes = 0
    for n, clip in enumerate(encoded, 1):
        if clip.data is None:
            progress(f"[{n}/{len(encoded)}] {clip.entry.file}: unchanged, already published")
            continue
        info = dest.put_target(clip.entry.target, clip.data)
        info.unrecognized_fields["custom"] = clip.custom
        targets.signed.targets[info.path] = info
        new_bytes += len(clip.data)
        progress(
            f"[{n}/{len(encoded)}] {clip.entry.file}: uploaded {len(clip.data) / 1024:.0f} KiB"
        )
    if previous is not None and previous.clips == clips and not checked.reinstated:
        progress(f"{name} version {previous.version} already has exactly these clips")
        return Published(name, previous.version, len(clips), 0, 0, tuple(warnings), ())
    action, note = "publish", ""
    if checked.reinstated:
        put_register(dest, targets, checked.register)
        action = "reinstate"
        note = "; ".join(f"{r.file}: {r.reason}" for r in checked.reinstated)
    stage_manifest(dest, targets, name, previous, clips, by, action, note)
    targets.sign(targets_signer)
    dest.publish(targets)
    version = (previous.version + 1) if previous else 1
    return Published(name, version, len(encoded), new, new_bytes, tuple(warnings), changes)


def stage_manifest(
    dest: Destination,
    targets: Metadata[Targets],
    name: str,
    previous: SetManifest | None,
    clips: tuple[ManifestClip, ...],
    by: str,
    action: str,
    note: str = "",
) -> int:
    """Upload the next manifest of set `name` and its history into `targets` (unsigned)."""
    manifest = SetManifest(
        name=name,
        version=(previous.version + 1) if previous else 1,
        published=utcnow().isoformat(),
        clips=clips,
    )
    info = dest.put_target(set_target(name), manifest.to_json())
    targets.signed.targets[info.path] = info
    history = read_history(dest, targets, name).add(
        Version(
            version=manifest.version,
            published=manifest.published,
            by=by,
            action=action,
            note=note,
            manifest_sha256=info.hashes["sha256"],
            manifest_length=info.length,
            clips=len(clips),
        )
    )
    hist = dest.put_target(history_target(name), history.to_json())
    targets.signed.targets[hist.path] = hist
    return manifest.version


def read_history(dest: Destination, targets: Metadata[Targets], name: str) -> SetHistory:
    """The set's signed history in `targets`, or an empty one."""
    info = targets.signed.targets.get(history_target(name))
    if info is None:
        return SetHistory(name)
    return parse_history(dest.read_target(info), info.path)


def assign(dest: Destination, targets_signer: Signer, group: str, set_name: str) -> dict[str, str]:
    """Make booths of `group` follow `set_name` (the signed `assignments.json` target)."""
    current = dest.current_targets()
    if set_target(set_name) not in current.signed.targets:
        raise LookupError(f"no set {set_name!r}")
    info = current.signed.targets.get(ASSIGNMENTS)
    groups: dict[str, str] = {}
    if info is not None:
        groups = dict(json.loads(dest.read_target(info))["groups"])
    groups[group] = set_name
    targets = next_targets(current)
    data = json.dumps({"groups": groups}, indent=1, sort_keys=True).encode()
    new = dest.put_target(ASSIGNMENTS, data)
    targets.signed.targets[new.path] = new
    targets.sign(targets_signer)
    dest.publish(targets)
    return groups
