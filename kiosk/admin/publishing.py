"""Publish a clip-set folder, or retire a clip, through a Destination (folder or hub)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from securesystemslib.signer import Signer
from tuf.api.metadata import Metadata, Targets

from kiosk.admin.destination import Destination
from kiosk.admin.publish import Loudness, encode_set, read_folder
from kiosk.content.manifest import ManifestClip, SetManifest, parse_manifest, set_target
from kiosk.content.repository import EXPIRY, utcnow

Progress = Callable[[str], None]
ASSIGNMENTS = "assignments.json"


@dataclass(frozen=True)
class Published:
    name: str
    version: int
    clips: int
    new_clips: int
    new_bytes: int
    warnings: tuple[str, ...]


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
) -> Published:
    """Encode `folder` and publish it as the next version of set `name`.

    Nothing is published unless every file is good; clips the destination already has are
    neither encoded nor uploaded again.
    """
    clipset, warnings = read_folder(folder, today)
    current = dest.current_targets()
    targets = next_targets(current)
    encoded = encode_set(clipset, targets.signed.targets, loudness)
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
    previous = current_manifest(dest, name)
    clips = tuple(c.entry for c in encoded)
    if previous is not None and previous.clips == clips:
        progress(f"{name} version {previous.version} already has exactly these clips")
        return Published(name, previous.version, len(clips), 0, 0, tuple(warnings))
    version = _publish_manifest(dest, targets, targets_signer, name, previous, clips)
    new = sum(1 for c in encoded if c.data is not None)
    return Published(name, version, len(encoded), new, new_bytes, tuple(warnings))


def retire(dest: Destination, targets_signer: Signer, name: str, clip: str) -> SetManifest:
    """Publish the next version of set `name` without `clip` (a file name or its stem)."""
    previous = current_manifest(dest, name)
    if previous is None:
        raise LookupError(f"no set {name!r}")
    kept = tuple(c for c in previous.clips if clip not in (c.file, Path(c.file).stem))
    if len(kept) == len(previous.clips):
        raise LookupError(f"set {name!r} has no clip {clip!r}")
    targets = next_targets(dest.current_targets())
    _publish_manifest(dest, targets, targets_signer, name, previous, kept)
    manifest = current_manifest(dest, name)
    assert manifest is not None
    return manifest


def _publish_manifest(
    dest: Destination,
    targets: Metadata[Targets],
    signer: Signer,
    name: str,
    previous: SetManifest | None,
    clips: tuple[ManifestClip, ...],
) -> int:
    manifest = SetManifest(
        name=name,
        version=(previous.version + 1) if previous else 1,
        published=utcnow().isoformat(),
        clips=clips,
    )
    info = dest.put_target(set_target(name), manifest.to_json())
    targets.signed.targets[info.path] = info
    targets.sign(signer)
    dest.publish(targets)
    return manifest.version


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
