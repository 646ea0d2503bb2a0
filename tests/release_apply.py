"""Booth software releases for the update tests: real wheels of this project, signed and staged.

`ApplyWheels` names the three releases the helper tests use (built by tests.releases.WheelFactory,
with a visible difference or a fault). `ReleaseRepo` publishes releases into a real signed
repository (kiosk.content.repository, kiosk.release.manifest targets). `stage` writes exactly
the files the contract (kiosk.release.manifest) has the daemon write under STATE/update/, so
the helper's tests can stage by hand what tests/integration/test_update_fleet.py has the real
downloader stage.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from kiosk.release.manifest import CHANNELS, Channels, Release, Wheel, release_target
from tests.content import Publisher
from tests.releases import WheelFactory


@dataclass(frozen=True)
class ApplyWheels:
    """The helper tests' releases: v1, v2 (READY says SECOND) and a v3 that raises at import."""

    v1: Path
    v2: Path
    broken: Path

    @classmethod
    def build(cls, wheels: WheelFactory) -> ApplyWheels:
        return cls(
            wheels.project("0.1.0"),
            wheels.project("0.2.0", "second"),
            wheels.project("0.3.0", "broken"),
        )


class ReleaseRepo:
    """An admin's signed repository holding releases (the targets of kiosk.release.manifest)."""

    def __init__(self, base: Path) -> None:
        self.publisher = Publisher(base)
        self.repo = self.publisher.repo
        self.channels = Channels()

    @property
    def root_json(self) -> Path:
        return self.publisher.root_json

    def add(self, wheel: Path, channel: str = "stable") -> Release:
        """Sign a release of `wheel` and put it on `channel`."""
        data = wheel.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        version = wheel.name.split("-")[1]
        release = Release(version, (Wheel(wheel.name, sha, len(data)),))
        chans = dict(self.channels.channels)
        chans[channel] = version
        self.channels = Channels(chans, dict(self.channels.groups), self.channels.default)
        self.sign({release_target(version): release.to_json(), release.wheels[0].target: data})
        return release

    def pin(self, group: str, version: str) -> None:
        groups = {**self.channels.groups, group: version}
        self.channels = Channels(dict(self.channels.channels), groups, self.channels.default)
        self.sign({})

    def sign(self, files: dict[str, bytes]) -> None:
        targets = self.repo.new_targets()
        for path, data in {**files, CHANNELS: self.channels.to_json()}.items():
            targets.signed.targets[path] = self.repo.add_target_bytes(path, data)
        targets.sign(self.publisher.keys.signer("targets"))
        self.repo.publish_targets(targets, self.publisher.online_signers())

    def target_bytes(self, path: str) -> bytes:
        info = self.repo.targets().signed.targets[path]
        return self.repo.target_path(info).read_bytes()


def stage(repo: ReleaseRepo, state: Path, version: str) -> None:
    """What the daemon's downloader leaves under STATE/update/ for `version` (the contract)."""
    update = state / "update"
    release_bytes = repo.target_bytes(release_target(version))
    release = json.loads(release_bytes)
    for w in release["wheels"]:
        folder = update / "wheels" / w["sha256"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / w["file"]).write_bytes(repo.target_bytes(f"wheels/{w['sha256']}/{w['file']}"))
    new = update / "staged.new"
    shutil.rmtree(new, ignore_errors=True)
    (new / "metadata").mkdir(parents=True)
    (new / "release.json").write_bytes(release_bytes)
    (new / "channels.json").write_bytes(repo.target_bytes(CHANNELS))
    meta = repo.repo.metadata
    snapshot = repo.repo.timestamp().signed.snapshot_meta.version
    targets = repo.repo.snapshot().signed.meta["targets.json"].version
    names = [p.name for p in meta.glob("[0-9]*.root.json")]
    names += ["timestamp.json", f"{snapshot}.snapshot.json", f"{targets}.targets.json"]
    for name in names:
        shutil.copy2(meta / name, new / "metadata" / name)
    shutil.rmtree(update / "staged", ignore_errors=True)
    os.replace(new, update / "staged")
    (update / "request").write_text(json.dumps({"version": version}) + "\n")
