"""The sync thread: a sync every `interval` (with jitter), results posted to the main loop.

Heavy disk work (collecting old sets) runs here, and only while the handset is on the hook.
A sync still running `OVERRUN_GRACE_S` after its deadline posts `stale` at once (from a timer
thread), so the booth never reports `ok` while something holds a sync.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

from kiosk.events import ConsentPurged, Healed, SyncFailed, SyncReady, UpdateProgress
from kiosk.sync.store import SetStore
from kiosk.sync.updater import Syncer, SyncError
from kiosk.update.downloader import ReleaseDownloader

log = logging.getLogger(__name__)

OVERRUN_GRACE_S = 5.0  # the fetcher ends network waits at the deadline; this is for the rest


class SyncWorker:
    """Owns the sync thread; the main loop sets `on_hook` and reads nothing else from here."""

    def __init__(
        self,
        syncer: Syncer,
        store: SetStore,
        interval_s: float,
        jitter: float,
        post: Callable[[object], None],
        rng: random.Random | None = None,
        overrun_grace_s: float = OVERRUN_GRACE_S,
        releases: ReleaseDownloader | None = None,
    ) -> None:
        """`releases`: after each content sync, look for a software release (kiosk.update)."""
        self.syncer = syncer
        self.releases = releases
        if releases is not None:
            releases.quiet = self._wait_on_hook
            releases.post = post
        self.overrun_grace_s = overrun_grace_s
        self.store = store
        self.interval_s = interval_s
        self.jitter = jitter
        self._post = post
        self._rng = rng or random.Random()
        self.on_hook = threading.Event()
        self._stop = threading.Event()
        self._staged: Path | None = None
        self._thread = threading.Thread(target=self._run, name="sync", daemon=True)
        syncer.quiet = self._wait_on_hook
        syncer.purged = lambda done: self._post(ConsentPurged(done.removed, done.active_files))
        syncer.healed = lambda set_name, files: self._post(Healed(set_name, files))

    def _wait_on_hook(self) -> None:
        """Hold fsync-heavy steps until nobody is listening (or we are stopping: `stop()` sets
        `on_hook` too, so this sleeps on the event alone)."""
        self.on_hook.wait()
        if self._stop.is_set():
            raise SyncError("error", "stopping")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.on_hook.set()  # wakes a sync held in _wait_on_hook
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.syncer.close()

    def _run(self) -> None:
        delay = self._rng.uniform(0, min(30.0, self.interval_s))  # spread a fleet's first sync
        while not self._stop.wait(delay):
            self.run_once()
            spread = self.interval_s * self.jitter
            delay = self.interval_s + self._rng.uniform(-spread, spread)

    def run_once(self) -> None:
        """One sync, then a look for a release; posts SyncReady or SyncFailed, and then
        UpdateProgress if releases are followed. Never raises."""
        try:
            self._sync_content()
        finally:
            if self.releases is not None and not self._stop.is_set():
                self._post(self._update(self.releases))

    def _update(self, releases: ReleaseDownloader) -> UpdateProgress:
        """The release step: its failures are its own (the content result is already posted)."""
        updater = self.syncer.refreshed
        if updater is None:
            failed = self._failed or SyncError("error", "no metadata")
            reason = f"signed metadata not refreshed ({failed.state}): {failed.reason}"
            return UpdateProgress("failed", "", reason, time.time())
        return releases.run(updater)

    def _sync_content(self) -> None:
        self._failed: SyncError | None = None
        if self.on_hook.is_set():
            self._collect()
        deadline_s = self.syncer.fetcher.limits.sync_deadline_s
        overrun = threading.Timer(deadline_s + self.overrun_grace_s, self._overran, (deadline_s,))
        overrun.daemon = True
        overrun.start()
        try:
            result = self.syncer.sync()
        except SyncError as e:
            log.warning("sync %s: %s", e.state, e.reason)
            self._failed = e
            self._post(SyncFailed(e.state, e.reason))
            return
        except Exception as e:  # a bug must not end the sync thread
            log.exception("sync failed")
            self._post(SyncFailed("error", f"{type(e).__name__}: {e}"))
            return
        finally:
            overrun.cancel()
        self._staged = result.folder
        self._post(
            SyncReady(result.folder, result.set_name, result.version, result.downloaded_bytes)
        )

    def _overran(self, deadline_s: float) -> None:
        reason = f"sync still running past its deadline (sync.deadline_s {deadline_s:g} s)"
        log.warning("sync stale: %s", reason)
        self._post(SyncFailed("stale", reason))

    def _collect(self) -> None:
        try:
            removed = self.store.collect(keep=[self._staged] if self._staged else [])
        except OSError as e:
            log.warning("collecting old sets: %s", e)
            return
        if removed:
            log.info("collected %d old files and sets", len(removed))
