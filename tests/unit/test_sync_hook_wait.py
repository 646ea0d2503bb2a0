"""The sync thread's wait for the hook: it sleeps on events, and stopping wakes it.

The stand-in syncer only blocks in `quiet()` the way a real staging step does; real syncs
through this worker run in tests/integration/test_booth_sync.py.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import cast

from kiosk.events import SyncFailed
from kiosk.sync.fetcher import Fetcher, FetchLimits
from kiosk.sync.store import SetStore
from kiosk.sync.updater import Syncer, SyncError
from kiosk.sync.worker import SyncWorker


class HeldSyncer:
    """A sync that reaches its fsync-heavy step and asks `quiet()` for the hook."""

    def __init__(self) -> None:
        self.quiet: Callable[[], None] = lambda: None
        self.waiting = threading.Event()
        self.fetcher = Fetcher(FetchLimits())  # its deadline (900 s) never fires here

    def sync(self) -> None:
        self.waiting.set()
        self.quiet()
        raise SyncError("stale", "went on after quiet()")

    def close(self) -> None:
        pass


def start(tmp_path: Path) -> tuple[SyncWorker, HeldSyncer, list[object], threading.Thread]:
    syncer = HeldSyncer()
    posted: list[object] = []
    store = SetStore(tmp_path)
    worker = SyncWorker(cast(Syncer, syncer), store, 60.0, 0.0, posted.append, random.Random(1))
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    assert syncer.waiting.wait(10)
    return worker, syncer, posted, thread


def test_a_sync_held_while_lifted_goes_on_once_the_handset_is_on_the_hook(
    tmp_path: Path,
) -> None:
    worker, _, posted, thread = start(tmp_path)
    worker.on_hook.set()
    thread.join(10)
    assert not thread.is_alive()
    assert posted == [SyncFailed("stale", "went on after quiet()")]
    worker.stop()


def test_stopping_ends_a_sync_held_while_lifted(tmp_path: Path) -> None:
    worker, _, posted, thread = start(tmp_path)
    worker.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert posted == [SyncFailed("error", "stopping")]
