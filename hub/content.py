"""The signed repository as the console reads it: sets, their history, the consent register,
the assignments. Read-only, straight from the hub's repository folder; the hub never signs
targets (it has no targets key), so nothing here writes."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from tuf.api.exceptions import LengthOrHashMismatchError, RepositoryError
from tuf.api.metadata import TargetFile, Targets

from kiosk.content.consent import CONSENT, ConsentRegister, parse_register
from kiosk.content.history import SetHistory, history_target, parse_history
from kiosk.content.manifest import (
    ASSIGNMENTS,
    ManifestClip,
    SetManifest,
    parse_manifest,
    set_target,
)
from kiosk.content.repository import Repository
from kiosk.errors import ConfigError
from kiosk.release.manifest import CHANNELS, Channels, parse_channels

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClipInfo:
    """A clip of a set's current version, with what the targets metadata says of it."""

    clip: ManifestClip
    duration_s: float | None
    loudness: str


class RepoView:
    """One snapshot of the repository: build one per request (it reads the targets once)."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self.targets: Targets = repo.targets().signed

    def _read(self, info: TargetFile) -> bytes:
        data = self.repo.target_path(info).read_bytes()
        info.verify_length_and_hashes(data)
        return data

    def set_names(self) -> list[str]:
        return sorted(p.split("/")[1] for p in self.targets.targets if p.endswith("/clipset.json"))

    def manifest(self, name: str) -> SetManifest | None:
        info = self.targets.targets.get(set_target(name))
        return None if info is None else parse_manifest(self._read(info), info.path)

    def history(self, name: str) -> SetHistory:
        info = self.targets.targets.get(history_target(name))
        return SetHistory(name) if info is None else parse_history(self._read(info), info.path)

    def version(self, name: str, version: int) -> SetManifest | None:
        """An earlier version's manifest, through the set's signed history."""
        entry = self.history(name).find(version)
        if entry is None:
            return None
        info = TargetFile(
            entry.manifest_length, {"sha256": entry.manifest_sha256}, set_target(name)
        )
        return parse_manifest(self._read(info), info.path)

    def register(self) -> ConsentRegister:
        info = self.targets.targets.get(CONSENT)
        return ConsentRegister() if info is None else parse_register(self._read(info), CONSENT)

    def assignments(self) -> dict[str, str]:
        info = self.targets.targets.get(ASSIGNMENTS)
        if info is None:
            return {}
        return {str(k): str(v) for k, v in json.loads(self._read(info))["groups"].items()}

    def channels(self) -> Channels | None:
        """The signed `releases/channels.json`, or None if there is none."""
        info = self.targets.targets.get(CHANNELS)
        return None if info is None else parse_channels(self._read(info), CHANNELS)

    def clip_info(self, clip: ManifestClip) -> ClipInfo:
        info = self.targets.targets.get(clip.target)
        custom = info.custom if info is not None and isinstance(info.custom, dict) else {}
        ms = custom.get("duration_ms")
        duration = ms / 1000 if isinstance(ms, int) else None
        if duration is None and info is not None:
            duration = _opus_seconds(self.repo.target_path(info).as_posix())
        return ClipInfo(clip, duration, str(custom.get("loudness", "")))

    def clip_path(self, clip: ManifestClip) -> Path | None:
        """The clip's bytes in the repository folder, if they are there at their signed length
        (the hub wrote them after checking their hash)."""
        info = self.targets.targets.get(clip.target)
        if info is None or not self.repo.has_target_bytes(info):
            return None
        return self.repo.target_path(info)


def _opus_seconds(path: str) -> float | None:
    """A clip published before durations were recorded: read its Ogg header."""
    import soundfile as sf

    try:
        return float(sf.info(path).duration)
    except (RuntimeError, OSError):
        return None


def clip_lengths(repo: Repository) -> dict[tuple[str, str], float]:
    """(set, clip file) -> seconds, for every clip of every set's current version."""
    view = RepoView(repo)
    out = {}
    for name in view.set_names():
        manifest = view.manifest(name)
        for clip in manifest.clips if manifest else ():
            seconds = view.clip_info(clip).duration_s
            if seconds is not None:
                out[(name, clip.file)] = seconds
    return out


def release_channels(repo: Repository) -> Channels | None:
    """The channels the repository signs now, or None (none published, or unreadable: logged,
    the pages then show versions only)."""
    try:
        return RepoView(repo).channels()
    except (ConfigError, OSError, LengthOrHashMismatchError, RepositoryError, ValueError) as e:
        log.warning("%s: unreadable, showing versions only: %s", CHANNELS, e)
        return None
