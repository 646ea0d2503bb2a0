"""The helper's intake: copy what the daemon staged into a root-owned folder, then verify it.

Nothing under the daemon's STATE/update/ is trusted. Each file is opened component by component
with O_NOFOLLOW (a symlink anywhere on the way is refused), must be a regular file under a size
limit, and is copied before it is read. The copied metadata is then checked by python-tuf's
ngclient from the helper's own trusted metadata (bootstrapped from the root-owned
/etc/kiosk/root.json and kept in the helper's state folder, so rollback and freeze protection
hold across runs); release.json, channels.json and every wheel of the release that fits this
Python (kiosk.update.choose, as the daemon chose them) must match the signed targets.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import TargetFile
from tuf.ngclient import Updater
from tuf.ngclient.fetcher import FetcherInterface

from kiosk.content.repository import updater_config
from kiosk.errors import ConfigError, KioskError
from kiosk.release.manifest import (
    CHANNELS,
    Release,
    parse_channels,
    parse_release,
    release_target,
)
from kiosk.update.choose import NoWheel, choose

_METADATA = re.compile(r"(\d{1,9}\.(root|snapshot|targets)|timestamp)\.json")
MAX_RELEASE_BYTES = 1_000_000
MAX_WHEEL_BYTES = 200_000_000


class RejectedError(KioskError, ValueError):
    """The staged release failed a check; the message says which."""


@dataclass(frozen=True)
class Verified:
    """A release whose manifest and wheels match the signed targets."""

    release: Release
    wheels: Path  # a root-owned folder holding exactly the release's verified wheels
    wanted: str | None  # the version the group's signed channels.json names, if staged
    pinned: bool  # whether `wanted` is an explicit pin


def open_under(base: Path, relative: str) -> int:
    """An fd of the regular file `base/relative`, refusing symlinks below `base`."""
    parts = relative.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise RejectedError(f"{relative}: not a plain relative path")
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
        out = os.open(parts[-1], flags, dir_fd=fd)
    except OSError as e:
        raise RejectedError(f"{base / relative}: cannot open without following links: {e}") from e
    finally:
        os.close(fd)
    if not stat.S_ISREG(os.fstat(out).st_mode):
        os.close(out)
        raise RejectedError(f"{base / relative}: not a regular file")
    return out


def copy_under(base: Path, relative: str, dest: Path, limit: int) -> None:
    """Copy `base/relative` (see open_under) to `dest`, refusing more than `limit` bytes."""
    fd = open_under(base, relative)
    with os.fdopen(fd, "rb") as src, dest.open("wb") as out:
        copied = 0
        while chunk := src.read(1 << 20):
            copied += len(chunk)
            if copied > limit:
                raise RejectedError(f"{base / relative}: larger than {limit} bytes")
            out.write(chunk)


def list_under(base: Path, relative: str) -> list[str]:
    """The names in the folder `base/relative`, refusing symlinks on the way."""
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in relative.split("/"):
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
        return os.listdir(fd)
    except OSError as e:
        raise RejectedError(f"{base / relative}: cannot list without following links: {e}") from e
    finally:
        os.close(fd)


class _CopiedFetcher(FetcherInterface):
    """ngclient's network: the metadata files copied into the helper's folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _fetch(self, url: str) -> Iterator[bytes]:
        name = url.rsplit("/", 1)[-1]
        path = self.folder / name
        if not _METADATA.fullmatch(name) or not path.is_file():
            raise tuf_errors.DownloadHTTPError(f"{name}: not staged", 404)
        return iter([path.read_bytes()])


def _check(info: TargetFile | None, path: Path, target: str) -> None:
    if info is None:
        raise RejectedError(f"{target}: not in the signed targets")
    try:
        with path.open("rb") as f:
            info.verify_length_and_hashes(f)
    except tuf_errors.LengthOrHashMismatchError as e:
        raise RejectedError(f"{target}: does not match the signed targets: {e}") from e


def take(state_dir: Path, work: Path, trusted: Path, root_json: Path, group: str) -> Verified:
    """Copy STATE/update/staged (and the release's wheels) into `work`, and verify them.

    `trusted` is the helper's ngclient metadata folder; `root_json` bootstraps it.
    """
    shutil.rmtree(work, ignore_errors=True)
    (work / "metadata").mkdir(parents=True, mode=0o700)
    (work / "wheels").mkdir(mode=0o700)
    staged = "update/staged"
    for name in list_under(state_dir, f"{staged}/metadata"):
        if _METADATA.fullmatch(name):
            copy_under(state_dir, f"{staged}/metadata/{name}", work / "metadata" / name, 4 << 20)
    copy_under(state_dir, f"{staged}/release.json", work / "release.json", MAX_RELEASE_BYTES)
    has_channels = "channels.json" in list_under(state_dir, staged)
    if has_channels:
        copy_under(state_dir, f"{staged}/channels.json", work / "channels.json", 1 << 20)

    trusted.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        bootstrap = None if (trusted / "root.json").exists() else root_json.read_bytes()
    except OSError as e:
        raise RejectedError(f"the trusted root {root_json}: {e}") from e
    updater = Updater(
        str(trusted),
        "staged:///metadata/",
        str(work / "targets"),
        "staged:///targets/",
        fetcher=_CopiedFetcher(work / "metadata"),
        config=updater_config(),
        bootstrap=bootstrap,
    )
    try:
        updater.refresh()
        release = parse_release((work / "release.json").read_bytes(), "staged release.json")
        target = release_target(release.version)
        _check(updater.get_targetinfo(target), work / "release.json", target)
        try:
            fitting = choose(release.wheels)  # what the daemon downloaded: fits this Python
        except NoWheel as e:
            raise RejectedError(str(e)) from e
        for wheel in fitting:
            info = updater.get_targetinfo(wheel.target)
            dest = work / "wheels" / wheel.file
            copy_under(state_dir, f"update/wheels/{wheel.sha256}/{wheel.file}", dest, wheel.length)
            _check(info, dest, wheel.target)
        wanted, pinned = None, False
        if has_channels:
            _check(updater.get_targetinfo(CHANNELS), work / "channels.json", CHANNELS)
            channels = parse_channels((work / "channels.json").read_bytes())
            wanted, pinned = channels.wanted(group)
    except tuf_errors.RepositoryError as e:
        raise RejectedError(f"the staged metadata: {type(e).__name__}: {e}") from e
    except tuf_errors.DownloadError as e:
        raise RejectedError(f"the staged metadata is incomplete: {e}") from e
    except ConfigError as e:
        raise RejectedError("; ".join(e.problems)) from e
    return Verified(release, work / "wheels", wanted, pinned)
