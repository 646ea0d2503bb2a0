"""Publishing straight into a repository folder the admin can write (no hub in between).

The hub does the same with the targets metadata an admin uploads; this path serves a single
site, the tests, and the first set before a hub exists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk.admin.publish import Loudness, encode_set, read_folder
from kiosk.content.keys import KeyStore
from kiosk.content.manifest import SetManifest, parse_manifest, set_target
from kiosk.content.repository import Repository

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Published:
    name: str
    version: int
    clips: int
    new_clips: int
    new_bytes: int
    warnings: tuple[str, ...]


def current_manifest(repo: Repository, name: str) -> SetManifest | None:
    info = repo.targets().signed.targets.get(set_target(name))
    if info is None:
        return None
    return parse_manifest(repo.target_path(info).read_bytes(), info.path)


def publish(
    folder: Path,
    name: str,
    repo: Repository,
    keys: KeyStore,
    online: KeyStore,
    loudness: Loudness,
    today: dt.date,
    progress: Progress = lambda _: None,
) -> Published:
    """Encode `folder` and publish it as the next version of set `name`."""
    clipset, warnings = read_folder(folder, today)
    targets = repo.new_targets()
    encoded = encode_set(clipset, targets.signed.targets, loudness)
    new_bytes = 0
    for n, clip in enumerate(encoded, 1):
        if clip.data is None:
            progress(f"[{n}/{len(encoded)}] {clip.entry.file}: unchanged, already published")
            continue
        info = repo.add_target_bytes(clip.entry.target, clip.data)
        info.unrecognized_fields["custom"] = clip.custom
        targets.signed.targets[info.path] = info
        new_bytes += len(clip.data)
        progress(f"[{n}/{len(encoded)}] {clip.entry.file}: {len(clip.data) / 1024:.0f} KiB")
    previous = current_manifest(repo, name)
    clips = tuple(c.entry for c in encoded)
    if previous is not None and previous.clips == clips:
        progress(f"{name} version {previous.version} already has exactly these clips")
        return Published(name, previous.version, len(clips), 0, 0, tuple(warnings))
    manifest = SetManifest(
        name=name,
        version=(previous.version + 1) if previous else 1,
        published=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        clips=clips,
    )
    info = repo.add_target_bytes(set_target(name), manifest.to_json())
    targets.signed.targets[info.path] = info
    targets.sign(keys.signer("targets"))
    repo.publish_targets(targets, {r: online.signer(r) for r in ("snapshot", "timestamp")})
    new = sum(1 for c in encoded if c.data is not None)
    return Published(name, manifest.version, len(encoded), new, new_bytes, tuple(warnings))
