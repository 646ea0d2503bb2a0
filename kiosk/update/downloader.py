"""At each sync: the release this booth's group wants, downloaded, verified and staged.

Runs on the sync thread after the content sync, with the same refreshed TUF updater (the
release, its wheels and `releases/channels.json` are targets of the signed targets metadata)
and the same Fetcher (its deadlines; `.part` files resumed with Range). Anti-rollback: a
version older than the running one is taken only when the group pins it. Every failure comes
back as an `UpdateProgress("failed", ...)`, never as an exception: the clip sync's result
stands whatever happens here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata, Root, TargetFile
from tuf.ngclient import Updater

from kiosk import __version__
from kiosk.content.repository import MAX_BYTES
from kiosk.errors import ConfigError
from kiosk.events import UpdateProgress
from kiosk.release.manifest import (
    CHANNELS,
    Release,
    Wheel,
    parse_channels,
    parse_release,
    release_target,
)
from kiosk.sync import verify
from kiosk.sync.fetcher import Fetcher
from kiosk.sync.updater import SyncError, ensure_space
from kiosk.update.choose import NoWheel, choose
from kiosk.update.helper import read_status
from kiosk.update.staging import UpdateDir

log = logging.getLogger(__name__)
TAKEN = ("applying", "probation")  # helper states in which a staged release is in its hands


class UpdateFailed(Exception):
    """A release could not be staged; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def running_version() -> str:
    """The installed `kiosk` distribution's version (kiosk.__version__)."""
    return __version__


@dataclass(frozen=True)
class UpdateSource:
    url: str  # the repository root, as sync.url
    group: str  # sync.group
    status_file: Path  # update.status_file (the helper's)


class ReleaseDownloader:
    """Finds, fetches and stages releases; owned by the sync thread."""

    def __init__(
        self,
        source: UpdateSource,
        fetcher: Fetcher,
        state_dir: Path,
        running: str | None = None,
        quiet: Callable[[], None] = lambda: None,
        post: Callable[[UpdateProgress], None] = lambda _: None,
        wall: Callable[[], float] = time.time,
        reserve_bytes: int = 0,
    ) -> None:
        """`quiet()` blocks until fsync-heavy work may run; `post()` hears `downloading` as it
        starts (the final state is returned); `reserve_bytes` stay free on the state
        directory's disk (sync.reserve_mb), as for clips."""
        self.source = source
        self.fetcher = fetcher
        self.state_dir = state_dir
        self.dir = UpdateDir(state_dir)
        self.metadata_dir = state_dir / "tuf" / "metadata"
        self.running = running or running_version()
        self.quiet = quiet
        self.post = post
        self.wall = wall
        self.reserve_bytes = reserve_bytes

    def _progress(self, state: str, version: str = "", reason: str = "") -> UpdateProgress:
        return UpdateProgress(state, version, reason, self.wall())

    def run(self, updater: Updater) -> UpdateProgress:
        """One look at the channels with a refreshed `updater`. Never raises."""
        wanted = ""
        try:
            info = updater.get_targetinfo(CHANNELS)
            if info is None:
                return self._progress("idle")
            channels_json = self._target_bytes(updater, info)
            channels = parse_channels(channels_json, CHANNELS)
            want, pinned = channels.wanted(self.source.group)
            if want is None:
                return self._progress("idle")
            wanted = want
            skip = self._skip(want, pinned)
            if skip is not None:
                return skip
            self.fetcher.start_sync()  # a budget of its own: the clip sync may have used one
            return self._fetch_and_stage(updater, want, channels_json)
        except (UpdateFailed, SyncError) as e:  # SyncError: quiet() says we are stopping
            reason = e.reason
        except tuf_errors.SlowRetrievalError as e:
            reason = f"download too slow: {e}"
        except tuf_errors.RepositoryError as e:
            reason = f"rejected by TUF: {type(e).__name__}: {e}"
        except tuf_errors.DownloadError as e:
            reason = f"download failed: {type(e).__name__}: {e}"
        except ConfigError as e:
            reason = "; ".join(e.problems)
        except OSError as e:
            reason = f"cannot stage the release: {e}"
        except Exception as e:  # a bug here must not end the sync thread
            log.exception("release download failed")
            reason = f"{type(e).__name__}: {e}"
        log.warning("update failed: %s", reason)
        return self._progress("failed", wanted, reason)

    def _skip(self, want: str, pinned: bool) -> UpdateProgress | None:
        try:
            wanted, running = Version(want), Version(self.running)
        except InvalidVersion as e:
            raise UpdateFailed(f"not a version: {e}") from e
        if wanted == running:
            return self._progress("idle", want)
        if wanted < running and not pinned:
            reason = (
                f"the channel carries {want}, older than the running {self.running}: "
                "kept (only a pin, kiosk-admin assign-release, moves a booth back)"
            )
            log.info("update: %s", reason)
            return self._progress("idle", want, reason)
        helper = read_status(self.source.status_file)
        if helper is not None and want in helper.bad:
            reason = f"{want} was rolled back on this booth: not retried"
            return self._progress("idle", want, reason)
        if self.dir.staged_version() == want:
            if helper is not None and helper.state == "staged" and helper.version == want:
                # The helper gave up waiting for the handset (update.switch_wait_s): ask again,
                # now that it is on the hook.
                self.quiet()
                self.dir.write_request(want)
                log.info("update: %s requested again (the helper waited for the hook)", want)
            return self._progress("staged", want)
        if helper is not None and helper.version == want and helper.state in TAKEN:
            return self._progress("staged", want)  # the helper has it (it may move the request)
        return None

    def _fetch_and_stage(
        self, updater: Updater, version: str, channels_json: bytes
    ) -> UpdateProgress:
        info = updater.get_targetinfo(release_target(version))
        if info is None:
            raise UpdateFailed(f"{release_target(version)}: not a signed target")
        release_json = self._target_bytes(updater, info)
        release = parse_release(release_json, info.path)
        if release.version != version:
            raise UpdateFailed(f"{info.path}: names version {release.version}")
        try:
            wheels = choose(release.wheels)
        except NoWheel as e:
            raise UpdateFailed(str(e)) from e
        signed = [(w, self._signed(updater, w)) for w in wheels]
        todo = [(w, i) for w, i in signed if not self.dir.cached(w)]
        if todo:
            needed = sum(max(0, i.length - self._partial_bytes(w)) for w, i in todo)
            ensure_space(self.state_dir, needed, self.reserve_bytes, f"release {version}")
            self.post(self._progress("downloading", version))
            for wheel, winfo in todo:
                self._download(wheel, winfo)
        metadata = self._metadata()
        self.quiet()
        self.dir.stage(version, release_json, metadata, channels_json)
        keep = {w.sha256 for w in wheels} | self._running_wheels(updater)
        removed = self.dir.collect(keep)
        if removed:
            log.info("update: removed %d cached wheels no release here uses", len(removed))
        log.info("update: release %s staged (%d wheels)", version, len(wheels))
        return self._progress("staged", version)

    def _signed(self, updater: Updater, wheel: Wheel) -> TargetFile:
        """The signed target of a wheel of the release; it must agree with the manifest."""
        info = updater.get_targetinfo(wheel.target)
        if info is None:
            raise UpdateFailed(f"{wheel.file}: {wheel.target} is not a signed target")
        if info.length != wheel.length or info.hashes.get("sha256") != wheel.sha256:
            raise UpdateFailed(
                f"{wheel.file}: release.json says {wheel.length} bytes, the signed targets "
                f"{info.length} bytes (or another sha256)"
            )
        return info

    def _partial_bytes(self, wheel: Wheel) -> int:
        part = self.dir.part_path(wheel)
        return part.stat().st_size if part.is_file() else 0

    def _download(self, wheel: Wheel, info: TargetFile) -> None:
        part = self.dir.prepare_part(wheel)
        base = self.source.url.rstrip("/")
        # Consistent snapshots: targets are served as <dir>/<sha256>.<name>.
        url = f"{base}/targets/wheels/{wheel.sha256}/{wheel.sha256}.{wheel.file}"
        if not verify.download_verified(self.fetcher, url, part, info):
            raise UpdateFailed(f"{wheel.file}: bytes do not match the signed hash")
        self.quiet()
        self.dir.commit_wheel(wheel)

    def _running_wheels(self, updater: Updater) -> set[str]:
        """The running release's wheels, kept in the cache (a helper rolling back may use them)."""
        info = updater.get_targetinfo(release_target(self.running))
        if info is None:
            return set()
        try:
            release: Release = parse_release(self._target_bytes(updater, info), info.path)
        except ConfigError:
            return set()
        return {w.sha256 for w in release.wheels}

    def _metadata(self) -> dict[str, bytes]:
        """The verified metadata for `staged/metadata`: roots 1..N, timestamp, snapshot, targets."""
        md = self.metadata_dir
        root = Metadata[Root].from_bytes((md / "root.json").read_bytes())
        out = self._roots(root.signed.version)
        out["timestamp.json"] = (md / "timestamp.json").read_bytes()
        for role in ("snapshot", "targets"):
            data = (md / f"{role}.json").read_bytes()
            out[f"{Metadata.from_bytes(data).signed.version}.{role}.json"] = data
        return out

    def _roots(self, current: int) -> dict[str, bytes]:
        """Every root version 1..current: cached ones, the others fetched; checked as a chain."""
        out: dict[str, bytes] = {}
        previous: Metadata[Root] | None = None
        base = self.source.url.rstrip("/")
        for n in range(1, current + 1):
            cached = self.metadata_dir / "root_history" / f"{n}.root.json"
            if cached.is_file():
                data = cached.read_bytes()
            else:
                data = self.fetcher.download_bytes(
                    f"{base}/metadata/{n}.root.json", MAX_BYTES["root"]
                )
            root = Metadata[Root].from_bytes(data)
            if root.signed.version != n:
                raise UpdateFailed(f"{n}.root.json: is version {root.signed.version}")
            if previous is not None:
                previous.signed.verify_delegate("root", root.signed_bytes, root.signatures)
                root.signed.verify_delegate("root", root.signed_bytes, root.signatures)
            previous = root
            out[f"{n}.root.json"] = data
        return out

    def _target_bytes(self, updater: Updater, info: TargetFile) -> bytes:
        path = updater.find_cached_target(info) or updater.download_target(info)
        return Path(path).read_bytes()
