"""The booth's update folder (kiosk.release.manifest): the wheel cache, `staged/`, `request`.

Everything here is read by the root helper while the daemon runs with UMask=0077, so folders
are made 0755 and files 0644 explicitly. `staged/` is built whole in a temp folder and renamed
into place; `request` is written last (kiosk.durable). The fsync-heavy steps run on the sync
thread, only after the caller's `quiet()` (the handset is on the hook).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from kiosk.durable import fsync_dir, write_atomic, write_synced
from kiosk.release.manifest import Wheel
from kiosk.sync.verify import matches

DIR_MODE, FILE_MODE = 0o755, 0o644


def make_dir(path: Path) -> None:
    """`path` and any missing parents under it, mode 0755 whatever the umask."""
    if path.is_dir():
        return
    make_dir(path.parent)
    path.mkdir(exist_ok=True)
    os.chmod(path, DIR_MODE)


def write_file(path: Path, data: bytes) -> None:
    """A new file, 0644, fsynced (the folder is fsynced by whoever renames it into place)."""
    write_synced(path, data, FILE_MODE)


class UpdateDir:
    """STATE/update."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "update"
        self.wheels = self.root / "wheels"
        self.staged = self.root / "staged"
        self.request = self.root / "request"
        self._building = self.root / ".staged.new"
        self._old = self.root / ".staged.old"

    def wheel_path(self, wheel: Wheel) -> Path:
        return self.wheels / wheel.sha256 / wheel.file

    def part_path(self, wheel: Wheel) -> Path:
        return self.wheels / wheel.sha256 / f"{wheel.file}.part"

    def cached(self, wheel: Wheel) -> bool:
        """The wheel is in the cache with its signed length and sha256 (hashed again now)."""
        return matches(self.wheel_path(wheel), wheel.sha256, wheel.length)

    def prepare_part(self, wheel: Wheel) -> Path:
        make_dir(self.part_path(wheel).parent)
        return self.part_path(wheel)

    def commit_wheel(self, wheel: Wheel) -> None:
        """Move a verified `.part` into place: 0644, fsynced, renamed."""
        part, final = self.part_path(wheel), self.wheel_path(wheel)
        fd = os.open(part, os.O_RDONLY)
        try:
            os.fchmod(fd, FILE_MODE)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(part, final)
        fsync_dir(final.parent)

    def staged_version(self) -> str | None:
        """The version of the complete staged release named by `request`, if both agree."""
        try:
            requested = json.loads(self.request.read_bytes())["version"]
            staged = json.loads((self.staged / "release.json").read_bytes())["version"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return str(requested) if requested == staged else None

    def stage(
        self,
        version: str,
        release_json: bytes,
        metadata: dict[str, bytes],
        channels_json: bytes,
    ) -> None:
        """Build `staged/` whole beside it, rename it into place, then write `request`.

        `channels_json` (the verified bytes of `releases/channels.json`) lets the helper honour
        a group's pin to an older version (a daemon before it staged none: the helper then
        takes only newer versions)."""
        make_dir(self.root)
        for leftover in (self._building, self._old):
            shutil.rmtree(leftover, ignore_errors=True)
        make_dir(self._building / "metadata")
        write_file(self._building / "release.json", release_json)
        write_file(self._building / "channels.json", channels_json)
        for name, data in metadata.items():
            write_file(self._building / "metadata" / name, data)
        fsync_dir(self._building / "metadata")
        fsync_dir(self._building)
        if self.staged.exists():
            os.replace(self.staged, self._old)
        os.replace(self._building, self.staged)
        fsync_dir(self.root)
        shutil.rmtree(self._old, ignore_errors=True)
        self.write_request(version)

    def write_request(self, version: str) -> None:
        """`request` (atomic, 0644): kiosk-update.path starts the helper on each write."""
        request = json.dumps({"version": version}, sort_keys=True).encode() + b"\n"
        write_atomic(self.request, request, FILE_MODE)

    def collect(self, keep: Iterable[str]) -> list[Path]:
        """Remove cached wheels (and parts) whose sha256 is not in `keep`; what went."""
        wanted = set(keep)
        removed: list[Path] = []
        if not self.wheels.is_dir():
            return removed
        for folder in sorted(self.wheels.iterdir()):
            if folder.name not in wanted:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
        return removed
