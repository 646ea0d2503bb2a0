"""The release formats shared by `kiosk-admin release`, the booth's downloader and the root helper.

Target paths in the content repository (the same TUF repository as the clip sets, signed with
the targets key):

    releases/channels.json             which version each channel carries, and each group follows
    releases/<version>/release.json    one release: its version, wheels and state schemas
    wheels/<sha256>/<wheel file name>  a wheel, content-addressed (shared between releases)

On the booth (STATE is the daemon's state directory; the daemon writes, the helper trusts
nothing here and verifies everything against its own root-owned trusted metadata):

    STATE/update/wheels/<sha256>/<file>   downloaded wheels (the cache; resumable `.part` files)
    STATE/update/staged/                  a complete staged release, renamed into place last:
        release.json                      the release target's bytes
        channels.json                     the verified bytes of releases/channels.json: the
                                          helper honours a group's pin to an older version
                                          only with it (anti-rollback otherwise)
        metadata/<N>.root.json            every root version 1..N, then timestamp.json,
        metadata/timestamp.json           <N>.snapshot.json and <N>.targets.json: the signed
        metadata/<N>.snapshot.json        metadata the daemon verified, for the helper to verify
        metadata/<N>.targets.json         again from its own root of trust
    STATE/update/request                  written last: {"version": "..."}; a path unit watches it
    update.hook_file (/run/kiosk/hook)    "on\n" or "off\n", mode 0644, rewritten by the daemon
                                          on every hook change: the helper switches only on "on"

The root helper's status, root-owned, readable by the daemon (update.status_file, default
/var/lib/kiosk-update/status.json), written atomically:

    {"state": "idle|applying|staged|probation|rolled_back|failed", "version": "<release concerned>",
     "running": "<version /opt/kiosk/current points at>", "reason": "<why, for rolled_back or
     failed>", "bad": ["<versions rolled back on this booth: never retried automatically>"],
     "at": <unix time>}

`staged` from the helper: the venv is built but the handset stayed lifted for
update.switch_wait_s; the daemon writes `request` again at a sync while on the hook.

The daemon reports `downloading` and `staged` itself and the helper's state once the helper has
taken the request; the heartbeat carries `version`, `update_state`, `update_version` and
`update_reason` (kiosk.fleet.records.Heartbeat).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from kiosk.errors import ConfigError

FORMAT = 1
CHANNELS = "releases/channels.json"
CHANNEL_NAMES = ("stable", "canary")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_WHEEL_TARGET = re.compile(r"wheels/([0-9a-f]{64})/([A-Za-z0-9._+-]{1,200}\.whl)")


def release_target(version: str) -> str:
    """The target path of a release's manifest."""
    return f"releases/{version}/release.json"


def wheel_target(sha256: str, file: str) -> str:
    """The content-addressed target path of a wheel."""
    return f"wheels/{sha256}/{file}"


def parse_version(text: str, where: str) -> Version:
    """A PEP 440 version, or a ConfigError naming `where`."""
    try:
        return Version(text)
    except InvalidVersion as e:
        raise ConfigError([f"{where}: not a PEP 440 version: {text!r}"]) from e


@dataclass(frozen=True)
class Wheel:
    """One wheel of a release: its file name carries its distribution and platform tags."""

    file: str
    sha256: str
    length: int

    @property
    def target(self) -> str:
        return wheel_target(self.sha256, self.file)

    @property
    def distribution(self) -> str:
        return str(parse_wheel_filename(self.file)[0])


@dataclass(frozen=True)
class Release:
    """`releases/<version>/release.json`.

    `python` is the interpreter version the wheelhouse was built for ("3.11"); `platforms` the
    platform tags it covers ("any", "linux_aarch64", "linux_armv7l", "linux_x86_64");
    `state_schemas` maps each on-disk state (outbox, rotation, fleet, ...) to the [oldest, newest]
    schema versions this release reads (it writes the newest).
    """

    version: str
    wheels: tuple[Wheel, ...]
    python: str = "3.11"
    platforms: tuple[str, ...] = ("any",)
    state_schemas: dict[str, tuple[int, int]] = field(default_factory=dict)
    created: str = ""  # ISO 8601, informational

    def to_json(self) -> bytes:
        doc = {
            "format": FORMAT,
            "version": self.version,
            "python": self.python,
            "platforms": list(self.platforms),
            "wheels": [
                {"file": w.file, "sha256": w.sha256, "length": w.length} for w in self.wheels
            ],
            "state_schemas": {k: list(v) for k, v in sorted(self.state_schemas.items())},
            "created": self.created,
        }
        return json.dumps(doc, indent=1, sort_keys=True).encode() + b"\n"


@dataclass(frozen=True)
class Channels:
    """`releases/channels.json`: the version on each channel, and what each booth group follows.

    A group follows a channel name or pins a version; a group not listed follows `default`.
    Only a pin moves a booth to an older version than it runs (anti-rollback).
    """

    channels: dict[str, str] = field(default_factory=dict)  # channel -> version
    groups: dict[str, str] = field(default_factory=dict)  # group -> channel name or version
    default: str = "stable"

    def wanted(self, group: str) -> tuple[str | None, bool]:
        """(the version `group` should run or None, whether it is an explicit pin)."""
        follow = self.groups.get(group, self.default) if group else self.default
        if follow in CHANNEL_NAMES:
            return self.channels.get(follow), False
        return follow, True

    def to_json(self) -> bytes:
        doc = {
            "format": FORMAT,
            "channels": dict(sorted(self.channels.items())),
            "groups": dict(sorted(self.groups.items())),
            "default": self.default,
        }
        return json.dumps(doc, indent=1, sort_keys=True).encode() + b"\n"


def _obj(doc: object, where: str) -> dict[str, object]:
    if not isinstance(doc, dict):
        raise ConfigError([f"{where}: expected a JSON object"])
    return doc


def _load(data: bytes, file: str) -> dict[str, object]:
    try:
        doc = _obj(json.loads(data), file)
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError([f"{file}: not JSON: {e}"]) from e
    if doc.get("format") != FORMAT:
        raise ConfigError([f"{file}: format: expected {FORMAT}, got {doc.get('format')!r}"])
    return doc


def _str(doc: dict[str, object], key: str, where: str, pattern: re.Pattern[str] = _NAME) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ConfigError([f"{where}: {key}: expected {pattern.pattern}, got {value!r}"])
    return value


def parse_release(data: bytes, file: str) -> Release:
    """Parse and check a release manifest; errors name the file and key."""
    doc = _load(data, file)
    version = _str(doc, "version", file)
    parse_version(version, f"{file}: version")
    raw = doc.get("wheels")
    if not isinstance(raw, list) or not raw:
        raise ConfigError([f"{file}: wheels: expected a non-empty list"])
    wheels = []
    for i, item in enumerate(raw):
        where = f"{file}: wheels[{i}]"
        w = _obj(item, where)
        length = w.get("length")
        if not isinstance(length, int) or isinstance(length, bool) or not 0 < length < 2**31:
            raise ConfigError([f"{where}: length: expected a positive integer, got {length!r}"])
        wheel = Wheel(
            _str(w, "file", where, re.compile(r"[A-Za-z0-9._+-]{1,200}\.whl")),
            _str(w, "sha256", where, _SHA256),
            length,
        )
        try:
            parse_wheel_filename(wheel.file)
        except InvalidWheelFilename as e:
            raise ConfigError([f"{where}: file: {e}"]) from e
        wheels.append(wheel)
    platforms = doc.get("platforms", ["any"])
    if not isinstance(platforms, list) or not all(
        isinstance(p, str) and _NAME.fullmatch(p) for p in platforms
    ):
        raise ConfigError([f"{file}: platforms: expected a list of platform tags"])
    schemas: dict[str, tuple[int, int]] = {}
    for key, span in _obj(doc.get("state_schemas", {}), f"{file}: state_schemas").items():
        if not (
            _NAME.fullmatch(key)
            and isinstance(span, list)
            and len(span) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in span)
            and span[0] <= span[1]
        ):
            raise ConfigError([f"{file}: state_schemas: {key}: expected [oldest, newest]"])
        schemas[key] = (span[0], span[1])
    created = doc.get("created", "")
    return Release(
        version=version,
        wheels=tuple(wheels),
        python=_str(doc, "python", file) if "python" in doc else "3.11",
        platforms=tuple(str(p) for p in platforms),
        state_schemas=schemas,
        created=created if isinstance(created, str) else "",
    )


def parse_channels(data: bytes, file: str = CHANNELS) -> Channels:
    """Parse and check `releases/channels.json`."""
    doc = _load(data, file)
    out: dict[str, dict[str, str]] = {}
    for key in ("channels", "groups"):
        table = _obj(doc.get(key, {}), f"{file}: {key}")
        out[key] = {}
        for name, value in table.items():
            if (
                not _NAME.fullmatch(name)
                or not isinstance(value, str)
                or not _NAME.fullmatch(value)
            ):
                raise ConfigError([f"{file}: {key}: {name!r}: expected a name and a version"])
            if key == "channels" or value not in CHANNEL_NAMES:
                parse_version(value, f"{file}: {key}: {name}")
            out[key][name] = value
    for name in out["channels"]:
        if name not in CHANNEL_NAMES:
            raise ConfigError([f"{file}: channels: {name!r}: expected one of {CHANNEL_NAMES}"])
    default = doc.get("default", "stable")
    if default not in CHANNEL_NAMES:
        raise ConfigError([f"{file}: default: expected one of {CHANNEL_NAMES}, got {default!r}"])
    return Channels(out["channels"], out["groups"], str(default))


def parse_wheel_target(path: str) -> tuple[str, str] | None:
    """(sha256, file) of a `wheels/<sha256>/<file>` target path, or None."""
    m = _WHEEL_TARGET.fullmatch(path)
    return (m.group(1), m.group(2)) if m else None
