"""One sync: refresh the signed metadata, fetch what is new, stage a complete set folder.

Trust comes only from python-tuf: the manifest and every clip are targets of the signed
targets metadata, and each byte is checked against its signed length and sha256 before it is
used. Nothing here activates a set; the main loop does that while the handset is on the hook.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import TargetFile
from tuf.ngclient import Updater

from kiosk.content.consent import CONSENT, parse_register
from kiosk.content.manifest import ManifestClip, SetManifest, parse_manifest, set_target
from kiosk.content.repository import updater_config
from kiosk.errors import ConfigError, KioskError
from kiosk.sync import verify
from kiosk.sync.consent import Purged, purge
from kiosk.sync.fetcher import Fetcher
from kiosk.sync.store import SetStore, StagedClip

log = logging.getLogger(__name__)

SyncState = Literal["ok", "stale", "error"]
ASSIGNMENTS = "assignments.json"
MB = 1024 * 1024


class SyncError(KioskError):
    """A sync failed; the active set stays. `state` is "stale" or "error"."""

    def __init__(self, state: SyncState, reason: str) -> None:
        super().__init__(reason)
        self.state = state
        self.reason = reason


def ensure_space(folder: Path, needed: int, reserve_bytes: int, what: str) -> None:
    """Raise SyncError("error") if writing `needed` bytes under `folder` would leave less than
    `reserve_bytes` (sync.reserve_mb) free on its disk; `what` names the download."""
    if needed <= 0:
        return
    free = shutil.disk_usage(folder).free
    if free - needed < reserve_bytes:
        raise SyncError(
            "error",
            f"not enough disk space: {what} needs {needed / MB:.1f} MB and sync.reserve_mb "
            f"keeps {reserve_bytes / MB:.0f} MB free, but {folder} has {free / MB:.1f} MB free",
        )


@dataclass(frozen=True)
class SyncResult:
    """A sync that verified everything: `folder` is the complete staged set to activate."""

    set_name: str
    version: int
    folder: Path
    downloaded_bytes: int


@dataclass(frozen=True)
class Source:
    """Where and what to sync."""

    url: str  # the repository root: <url>/metadata/, <url>/targets/
    trusted_root: Path  # root.json shipped with the booth (used until one is cached)
    set_name: str = ""  # follow this set, or
    group: str = ""  # the set the signed assignments.json gives this booth group


class Syncer:
    """Runs syncs on the sync thread; owns the TUF metadata cache under `state_dir/tuf`."""

    def __init__(
        self,
        source: Source,
        store: SetStore,
        fetcher: Fetcher,
        state_dir: Path,
        quiet: Callable[[], None] = lambda: None,
        purged: Callable[[Purged], None] = lambda _: None,
        reserve_bytes: int = 0,
        healed: Callable[[str, tuple[str, ...]], None] = lambda _set, _files: None,
    ):
        """`quiet()` blocks until fsync-heavy work may run (the handset is on the hook);
        `purged()` hears of retired clips deleted from the disk (kiosk.sync.consent);
        `reserve_bytes` stay free on the store's disk (sync.reserve_mb); `healed(set, files)`
        hears of a set's files found changed on the disk, discarded and fetched again."""
        self.quiet = quiet
        self.purged = purged
        self.healed = healed
        self._heals_reported: set[Path] = set()  # each corrupt file is reported once
        self.reserve_bytes = reserve_bytes
        self.source = source
        self.store = store
        self.fetcher = fetcher
        self.metadata_dir = state_dir / "tuf" / "metadata"
        self.download_dir = state_dir / "tuf" / "downloads"
        self.metadata_dir.mkdir(parents=True, exist_ok=True)
        self.download_dir.mkdir(parents=True, exist_ok=True)
        self.refreshed: Updater | None = None  # this sync's updater, once its refresh passed

    def close(self) -> None:
        """Close the HTTP connections."""
        self.fetcher.close()

    def sync(self) -> SyncResult:
        """Refresh and stage. Raises SyncError; never touches the active set."""
        self.fetcher.start_sync()
        before = self.fetcher.bytes
        self.refreshed = None
        try:
            updater = self._updater()
            updater.refresh()
            self.refreshed = updater
            retired = self._honour_consent(updater)
            name = self._set_name(updater)
            info = updater.get_targetinfo(set_target(name))
            if info is None:
                raise SyncError("error", f"the repository has no set {name!r}")
            manifest = parse_manifest(self._target_bytes(updater, info), info.path)
            if manifest.name != name:
                raise SyncError("error", f"{info.path}: names set {manifest.name!r}")
            kept = tuple(c for c in manifest.clips if c.sha256 not in retired)
            if len(kept) != len(manifest.clips):
                log.warning("%s names retired clips: left out", info.path)
                manifest = dataclasses.replace(manifest, clips=kept)
            folder = self._checked_folder(manifest)
            if folder is None:
                self._fetch_clips(updater, manifest)
                clips = [StagedClip(c.file, c.sha256, c.ext) for c in manifest.clips]
                self.quiet()
                folder = self.store.stage(
                    manifest.name, manifest.version, clips, manifest.clipset_yaml()
                )
        except tuf_errors.ExpiredMetadataError as e:
            raise SyncError("stale", f"signed metadata expired: {e}") from e
        except tuf_errors.SlowRetrievalError as e:
            raise SyncError("stale", f"download too slow: {e}") from e
        except tuf_errors.RepositoryError as e:
            raise SyncError("error", f"rejected by TUF: {type(e).__name__}: {e}") from e
        except tuf_errors.DownloadError as e:
            raise SyncError("error", f"download failed: {type(e).__name__}: {e}") from e
        except ConfigError as e:
            raise SyncError("error", "; ".join(e.problems)) from e
        except OSError as e:
            raise SyncError("error", f"cannot stage the set: {e}") from e
        return SyncResult(manifest.name, manifest.version, folder, self.fetcher.bytes - before)

    def _updater(self) -> Updater:
        cached = self.metadata_dir / "root.json"
        try:
            bootstrap = None if cached.exists() else self.source.trusted_root.read_bytes()
        except OSError as e:
            raise SyncError(
                "error", f"sync.root: cannot read {self.source.trusted_root}: {e}"
            ) from e
        url = self.source.url.rstrip("/")
        return _SparingUpdater(
            str(self.metadata_dir),
            f"{url}/metadata/",
            str(self.download_dir),
            f"{url}/targets/",
            fetcher=self.fetcher,
            config=updater_config(),
            bootstrap=bootstrap,
        )

    def _honour_consent(self, updater: Updater) -> set[str]:
        """The retired clips' sha256s; any bytes of theirs here are deleted first (waiting for
        the hook only if there are some)."""
        info = updater.get_targetinfo(CONSENT)
        if info is None:
            return set()
        retired = parse_register(self._target_bytes(updater, info), info.path).retired_sha256s()
        done = purge(self.store, retired, self.quiet)
        if done.removed:
            self.purged(done)
        return retired

    def _set_name(self, updater: Updater) -> str:
        if self.source.set_name:
            return self.source.set_name
        info = updater.get_targetinfo(ASSIGNMENTS)
        if info is None:
            raise SyncError("error", f"no sync.set and the repository has no {ASSIGNMENTS}")
        try:
            groups = json.loads(self._target_bytes(updater, info))["groups"]
            return str(groups[self.source.group])
        except (ValueError, KeyError, TypeError) as e:
            reason = f"{ASSIGNMENTS}: no set for group {self.source.group!r}"
            raise SyncError("error", reason) from e

    def _target_bytes(self, updater: Updater, info: TargetFile) -> bytes:
        path = updater.find_cached_target(info) or updater.download_target(info)
        return Path(path).read_bytes()

    def _fetch_clips(self, updater: Updater, manifest: SetManifest) -> None:
        base = self.source.url.rstrip("/") + "/targets/"
        signed = []
        for clip in manifest.clips:
            info = updater.get_targetinfo(clip.target)
            if info is None:
                raise SyncError("error", f"{clip.file}: {clip.target} is not a signed target")
            signed.append((clip, info))
        self._check_space(manifest, signed)
        for clip, info in signed:
            final = self.store.clip_path(clip.sha256, clip.ext)
            # Verified when it landed, and hashed again here: the SD card may have changed it.
            if final.is_file():
                if verify.matches(final, clip.sha256, info.length):
                    continue
                log.warning("%s: cached bytes do not match the signed hash", final)
                self.store.discard(final)
                self.healed(manifest.name, (clip.file,))
            part = self.store.partial_path(clip.sha256)
            # Consistent snapshots: targets are served as <dir>/<sha256>.<name>.
            url = f"{base}clips/{clip.sha256}.{clip.sha256}.{clip.ext}"
            if not verify.download_verified(self.fetcher, url, part, info):
                raise SyncError("error", f"{clip.file}: bytes do not match the signed hash")
            self.quiet()
            self.store.commit_clip(part, clip.sha256, clip.ext)

    def _check_space(
        self, manifest: SetManifest, signed: list[tuple[ManifestClip, TargetFile]]
    ) -> None:
        """Refuse a set that would leave less than `reserve_bytes` free, before any download."""
        needed = 0
        for clip, info in signed:
            final = self.store.clip_path(clip.sha256, clip.ext)
            if final.is_file() and final.stat().st_size == info.length:
                continue  # cached (hashed before use)
            part = self.store.partial_path(clip.sha256)
            needed += max(0, info.length - (part.stat().st_size if part.is_file() else 0))
        what = f"{manifest.name} version {manifest.version}"
        ensure_space(self.store.root, needed, self.reserve_bytes, what)

    def _checked_folder(self, manifest: SetManifest) -> Path | None:
        """The staged folder of this set version if its content matches the manifest.

        Bad files are discarded at once (from the cache and the active set too), so they never
        play again; the set is then fetched and staged anew.
        """
        folder = self.store.staged(manifest.name, manifest.version)
        if folder is None:
            return None
        bad = verify.bad_files(folder, manifest)
        if not bad:
            return folder
        log.warning("%s: corrupt on disk: %s; healing from the repository", folder, bad)
        # Changed bytes, not a file this booth removed itself at an earlier, failed heal (nor a
        # clipset.yaml, which stays, reported again at every sync until the heal is staged).
        new = [n for n in bad if (folder / n).exists() and folder / n not in self._heals_reported]
        for name in bad:
            if name != "clipset.yaml":  # read only at a set change; the folder stays active
                self.store.discard(folder / name)
        if new:
            self._heals_reported.update(folder / n for n in new)
            self.healed(manifest.name, tuple(new))
        return None


class _SparingUpdater(Updater):
    """ngclient's Updater without the rewrites of unchanged files.

    Each Updater (one per sync) persists the trusted root and re-creates the root.json symlink,
    even when nothing changed: on an SD card, two file writes and a journal commit every sync.
    """

    def _persist_file(self, filename: str, data: bytes) -> None:
        with contextlib.suppress(OSError):
            if Path(filename).read_bytes() == data:
                return
        super()._persist_file(filename, data)

    def _update_root_symlink(self) -> None:
        link = Path(self._dir, "root.json")
        current = os.path.join("root_history", f"{self._trusted_set.root.version}.root.json")
        with contextlib.suppress(OSError):
            if os.readlink(link) == current:
                return
        super()._update_root_symlink()
