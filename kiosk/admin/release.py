"""Publish booth software: a wheel or a wheelhouse as a release, channels and group pins.

Everything goes into one signed targets version through a Destination (folder or hub): the
wheels (`wheels/<sha256>/<file>`, uploaded only when the repository lacks their bytes), the
manifest (`releases/<version>/release.json`) and `releases/channels.json`. The formats are
kiosk.release.manifest's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import parse_wheel_filename
from packaging.version import Version
from securesystemslib.signer import Signer
from tuf.api.metadata import Metadata, TargetFile, Targets

from kiosk.admin.destination import Destination
from kiosk.admin.publishing import next_targets
from kiosk.errors import ConfigError
from kiosk.release.manifest import (
    CHANNEL_NAMES,
    CHANNELS,
    Channels,
    Release,
    Wheel,
    parse_channels,
    parse_release,
    parse_version,
    release_target,
)

PROJECT = "kiosk"  # the distribution whose version names the release
SCHEMAS = "kiosk/data/state-schemas.json"  # inside the project wheel, when present
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Released:
    release: Release
    channel: str
    uploaded: int  # wheels uploaded (the others were in the repository already)
    uploaded_bytes: int


def dist_wheels(dist: Path) -> list[Path]:
    """The wheel `dist`, or every wheel of the wheelhouse folder `dist`."""
    if dist.is_dir():
        wheels = sorted(dist.glob("*.whl"))
        if not wheels:
            raise ConfigError([f"{dist}: no wheels (*.whl) in this folder"])
        return wheels
    if dist.suffix != ".whl" or not dist.is_file():
        raise ConfigError([f"{dist}: not a wheel file or a wheelhouse folder"])
    return [dist]


def describe(wheels: list[Path], created: str = "") -> tuple[Release, dict[str, bytes]]:
    """The release these wheels make, and each wheel's bytes by file name."""
    data = {w.name: w.read_bytes() for w in wheels}
    project = [w for w in wheels if str(parse_wheel_filename(w.name)[0]) == PROJECT]
    if len(project) != 1:
        names = ", ".join(w.name for w in wheels)
        raise ConfigError([f"expected exactly one {PROJECT} wheel, got: {names}"])
    version = parse_wheel_filename(project[0].name)[1]
    platforms: set[str] = set()
    interpreters: set[str] = set()
    for w in wheels:
        tags = parse_wheel_filename(w.name)[3]
        platforms |= {t.platform for t in tags}
        interpreters |= {t.interpreter for t in tags}
    entries = tuple(
        Wheel(name, hashlib.sha256(b).hexdigest(), len(b)) for name, b in sorted(data.items())
    )
    release = Release(
        version=str(version),
        wheels=entries,
        python=_python(interpreters),
        platforms=tuple(sorted(platforms)),
        state_schemas=_schemas(project[0]),
        created=created,
    )
    return release, data


def _python(interpreters: set[str]) -> str:
    """The newest CPython the wheels were built for ("cp311" -> "3.11"); "3" if all are pure."""
    cpython = [int(i[3:]) for i in interpreters if i.startswith("cp3") and i[3:].isdigit()]
    return f"3.{max(cpython)}" if cpython else "3"


def _schemas(wheel: Path) -> dict[str, tuple[int, int]]:
    with zipfile.ZipFile(wheel) as z:
        if SCHEMAS not in z.namelist():
            return {}
        raw = z.read(SCHEMAS)
    where = f"{wheel.name}: {SCHEMAS}"
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise ConfigError([f"{where}: not JSON: {e}"]) from e
    table = doc.get("schemas", doc) if isinstance(doc, dict) else None
    if not isinstance(table, dict):
        raise ConfigError([f"{where}: expected an object of [oldest, newest] spans"])
    out = {}
    for key, span in table.items():
        if isinstance(span, int) and not isinstance(span, bool):
            span = [span, span]
        if not (
            isinstance(span, list) and len(span) == 2 and all(isinstance(n, int) for n in span)
        ):
            raise ConfigError([f"{where}: {key}: expected [oldest, newest]"])
        out[str(key)] = (int(span[0]), int(span[1]))
    return out


def read_channels(dest: Destination, targets: Metadata[Targets]) -> Channels:
    info = targets.signed.targets.get(CHANNELS)
    return Channels() if info is None else parse_channels(dest.read_target(info), CHANNELS)


def read_release(dest: Destination, targets: Metadata[Targets], version: str) -> Release | None:
    info = targets.signed.targets.get(release_target(version))
    return None if info is None else parse_release(dest.read_target(info), info.path)


def release_versions(targets: Metadata[Targets]) -> list[str]:
    """Every published release, oldest first."""
    found = [
        p.split("/")[1]
        for p in targets.signed.targets
        if p.startswith("releases/") and p.endswith("/release.json")
    ]
    return sorted(found, key=Version)


def release(
    dist: Path,
    channel: str,
    dest: Destination,
    signer: Signer,
    progress: Progress = lambda _: None,
) -> Released:
    """Publish `dist` and move `channel` to it, in one signed targets version.

    Refused when `channel` carries a newer version (pin a group with assign-release instead).
    """
    if channel not in CHANNEL_NAMES:
        raise ConfigError([f"--channel: expected one of {CHANNEL_NAMES}, got {channel!r}"])
    wheels = dist_wheels(dist)
    created = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    rel, data = describe(wheels, created)
    current = dest.current_targets()
    channels = read_channels(dest, current)
    on_channel = channels.channels.get(channel)
    if on_channel is not None and Version(on_channel) > Version(rel.version):
        raise ConfigError(
            [
                f"{channel} carries {on_channel}, newer than {rel.version}: a channel never "
                f"moves back; pin the booths instead (kiosk-admin assign-release GROUP "
                f"{rel.version})"
            ]
        )
    targets = next_targets(current)
    published = read_release(dest, current, rel.version)
    if published is not None and {w.sha256 for w in published.wheels} != {
        w.sha256 for w in rel.wheels
    }:
        raise ConfigError(
            [f"release {rel.version} is already published with other wheels: bump the version"]
        )
    uploaded = uploaded_bytes = 0
    for n, wheel in enumerate(rel.wheels, 1):
        info = TargetFile.from_data(wheel.target, data[wheel.file], ["sha256"])
        if dest.has_target(info):
            progress(f"[{n}/{len(rel.wheels)}] {wheel.file}: already in the repository")
        else:
            info = dest.put_target(wheel.target, data[wheel.file])
            uploaded += 1
            uploaded_bytes += wheel.length
            progress(f"[{n}/{len(rel.wheels)}] {wheel.file}: uploaded {wheel.length >> 10} KiB")
        targets.signed.targets[info.path] = info
    if published is not None:
        rel = published  # the same wheels: keep the signed manifest as it is
    else:
        info = dest.put_target(release_target(rel.version), rel.to_json())
        targets.signed.targets[info.path] = info
    moved = Channels({**channels.channels, channel: rel.version}, channels.groups, channels.default)
    _put_channels(dest, targets, moved, signer)
    return Released(rel, channel, uploaded, uploaded_bytes)


def assign_release(dest: Destination, signer: Signer, group: str, follow: str) -> Channels:
    """Make booths of `group` follow a channel, or pin them to a published release version."""
    current = dest.current_targets()
    if follow not in CHANNEL_NAMES:
        parse_version(follow, "VERSION")
        if release_target(follow) not in current.signed.targets:
            known = ", ".join(release_versions(current)) or "none"
            raise LookupError(f"no release {follow!r} (published: {known})")
    channels = read_channels(dest, current)
    moved = Channels(channels.channels, {**channels.groups, group: follow}, channels.default)
    targets = next_targets(current)
    _put_channels(dest, targets, moved, signer)
    return moved


def _put_channels(
    dest: Destination, targets: Metadata[Targets], channels: Channels, signer: Signer
) -> None:
    info = dest.put_target(CHANNELS, channels.to_json())
    targets.signed.targets[info.path] = info
    targets.sign(signer)
    dest.publish(targets)


def listing(dest: Destination) -> list[str]:
    """`kiosk-admin releases`: the channels, the groups and every release."""
    current = dest.current_targets()
    channels = read_channels(dest, current)
    lines = ["channels:"]
    for name in CHANNEL_NAMES:
        lines.append(f"  {name}\t{channels.channels.get(name, '-')}")
    lines.append(f"groups (others follow {channels.default}):")
    for group, follow in sorted(channels.groups.items()):
        kind = "channel" if follow in CHANNEL_NAMES else "pinned to"
        lines.append(f"  {group}\t{kind} {follow}")
    lines.append("releases:")
    for version in release_versions(current):
        rel = read_release(dest, current, version)
        if rel is not None:
            size = sum(w.length for w in rel.wheels) / 1024 / 1024
            platforms = ",".join(rel.platforms)
            lines.append(
                f"  {version}\t{len(rel.wheels)} wheels, {size:.1f} MB\t"
                f"python {rel.python} {platforms}\t{rel.created}"
            )
    return lines
