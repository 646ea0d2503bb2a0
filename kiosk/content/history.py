"""`sets/<name>/history.json`: every published version of a set, signed with it (no I/O here).

Each entry names the version's manifest by hash and length, so `kiosk-admin rollback` and the
hub's console can read any earlier version's manifest from the repository, and records who
made it and how (publish, retire, reinstate, rollback).

    {"format": 1, "set": "lobby",
     "versions": [{"version": 1, "published": "...", "by": "ana", "action": "publish",
                   "note": "", "manifest_sha256": "...", "manifest_length": 812, "clips": 3}]}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

from kiosk.content.manifest import ManifestClip
from kiosk.errors import ConfigError

FORMAT = 1


def history_target(name: str) -> str:
    """The target path of a set's history."""
    return f"sets/{name}/history.json"


@dataclass(frozen=True)
class Version:
    version: int
    published: str
    by: str
    action: str  # publish | retire | reinstate | rollback
    note: str
    manifest_sha256: str
    manifest_length: int
    clips: int


@dataclass(frozen=True)
class SetHistory:
    set: str
    versions: tuple[Version, ...] = ()
    format: int = FORMAT

    def find(self, version: int) -> Version | None:
        return next((v for v in self.versions if v.version == version), None)

    def add(self, entry: Version) -> SetHistory:
        return SetHistory(self.set, (*self.versions, entry))

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()


def parse_history(data: bytes, file: str) -> SetHistory:
    """Validate a history file; raises ConfigError naming the file and key."""
    try:
        doc = json.loads(data.decode("utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError(f"expected an object with format {FORMAT}")
        versions = []
        for i, v in enumerate(doc["versions"]):
            try:
                versions.append(Version(**v))
            except TypeError as e:
                raise ValueError(f"versions[{i}]: {e}") from e
            for key, kind in (("version", int), ("manifest_length", int), ("clips", int)):
                if not isinstance(v[key], kind):
                    raise ValueError(f"versions[{i}].{key}: expected a number")
        return SetHistory(str(doc["set"]), tuple(versions))
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        raise ConfigError([f"{file}: {e}"]) from e


def diff_clips(old: Sequence[ManifestClip], new: Sequence[ManifestClip]) -> list[str]:
    """What changed between two versions' clips, one line each ("+", "-" or "~" and the file)."""
    before = {c.file: c for c in old}
    after = {c.file: c for c in new}
    lines = []
    for file, clip in after.items():
        was = before.get(file)
        if was is None:
            lines.append(f"+ {file}  {clip.title!r} - {clip.speaker}")
        elif was != clip:
            keys = [f.name for f in fields(ManifestClip)]
            changed = [k for k in keys if getattr(was, k) != getattr(clip, k)]
            what = ", ".join("new audio" if k == "target" else k for k in changed)
            lines.append(f"~ {file}  {what}")
    for file, clip in before.items():
        if file not in after:
            lines.append(f"- {file}  {clip.title!r} - {clip.speaker}")
    return lines
