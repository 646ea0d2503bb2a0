"""The sync thread's reports, with a fake syncer (the real one: tests/integration/test_sync*.py)."""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any, cast

from kiosk.events import SyncFailed, SyncReady
from kiosk.sync.fetcher import FetchLimits
from kiosk.sync.store import SetStore
from kiosk.sync.updater import Syncer, SyncResult
from kiosk.sync.worker import SyncWorker


class _Fetcher:
    def __init__(self, deadline_s: float) -> None:
        self.limits = FetchLimits(sync_deadline_s=deadline_s)


class HeldSyncer:
    """A sync that lasts until `release` is set (a sync held by something the fetcher misses)."""

    def __init__(self, folder: Path, deadline_s: float = 0.05) -> None:
        self.fetcher = _Fetcher(deadline_s)
        self.release = threading.Event()
        self.folder = folder
        self.quiet: Any = None

    def sync(self) -> SyncResult:
        self.release.wait(10)
        return SyncResult("lobby", 2, self.folder, 0)

    def close(self) -> None:
        pass


def test_a_sync_running_past_its_deadline_reports_stale_before_it_ends(tmp_path: Path) -> None:
    syncer = HeldSyncer(tmp_path / "sets" / "lobby-v2")
    events: queue.Queue[object] = queue.Queue()
    store = SetStore(tmp_path)
    worker = SyncWorker(cast(Syncer, syncer), store, 60, 0, events.put, overrun_grace_s=0)
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    try:
        first = events.get(timeout=10)
        assert isinstance(first, SyncFailed) and first.state == "stale"
        assert "past its deadline" in first.reason and "sync.deadline_s" in first.reason
    finally:
        syncer.release.set()
        thread.join(10)
    assert isinstance(events.get(timeout=10), SyncReady)  # and a late success still arrives
    assert events.empty()


def test_a_sync_within_its_deadline_reports_only_its_result(tmp_path: Path) -> None:
    syncer = HeldSyncer(tmp_path / "sets" / "lobby-v2", deadline_s=30)
    syncer.release.set()
    events: queue.Queue[object] = queue.Queue()
    worker = SyncWorker(cast(Syncer, syncer), SetStore(tmp_path), 60, 0, events.put)
    worker.run_once()
    assert isinstance(events.get(timeout=10), SyncReady)
    assert events.empty()
