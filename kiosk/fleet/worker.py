"""The fleet thread: uploads the outbox in batches and sends a heartbeat every interval.

It never touches the main loop's state: it reads the `BoothStatus` the main loop publishes
(through `status()`) and opens its own connection to the outbox file. While the hub is down
it backs off (upload_interval doubling to retry_max_s); nothing it does can block the loop.
Once the queue is empty it sleeps until `wake()` (events committed) or the next heartbeat,
and then uploads at most once per upload_interval: an idle booth never looks at the outbox.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk import __version__
from kiosk.config import FleetConfig
from kiosk.fleet.client import FleetError, HubClient
from kiosk.fleet.fit import MAX_BATCH_BYTES, fit_event, fit_heartbeat
from kiosk.fleet.status import BoothStatus
from kiosk.outbox import Outbox
from kiosk.update.helper import read_status, update_fields

log = logging.getLogger(__name__)


class FleetWorker:
    """Owns the fleet thread. `start()`, then `stop()` from the thread that started it.

    Whoever commits events must call `wake()` (kiosk.cli sets it as the outbox's `on_commit`).
    """

    def __init__(
        self,
        client: HubClient,
        outbox_path: Path,
        config: FleetConfig,
        status: Callable[[], BoothStatus],
        state_dir: Path,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        update_status_file: Path | None = None,
    ) -> None:
        """`update_status_file`: the update helper's status (update.status_file), merged into
        the heartbeat's update fields; None when the booth follows no releases."""
        self.client = client
        self.update_status_file = update_status_file
        self.outbox_path = outbox_path
        self.config = config
        self.status = status
        self.state_dir = state_dir
        self.clock = clock
        self.wall = wall
        self.rng = rng or random.Random()
        self.started = clock()
        self.clock_offset_s: float | None = None
        self.uploaded = 0  # events the hub acknowledged, for tests and logs
        # Halved when something on the way answers 413 (a proxy with a lower cap): a single
        # record (at most 4 KiB) always fits, so no batch can stay stuck.
        self.batch_bytes = MAX_BATCH_BYTES
        self._failures = 0
        self._stop = threading.Event()
        self._wake = threading.Event()  # events were queued, or stop
        self._thread = threading.Thread(target=self._run, name="fleet", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Events were committed to the outbox (any thread; never blocks)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            # A request to a hanging hub may take timeout_s: don't hold up the daemon's stop
            # for it (the thread is a daemon; the outbox is consistent at any point).
            self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.client.close()

    def _run(self) -> None:
        box = Outbox(self.outbox_path)
        try:
            next_upload = self.clock()
            # The first beat waits for the main loop's status, and spreads a fleet's restarts.
            next_beat = next_upload + self.rng.uniform(
                1.0, min(10.0, self.config.heartbeat_interval)
            )
            last_pass = -math.inf
            while not self._stop.is_set():
                now = self.clock()
                if self._wake.is_set():
                    self._wake.clear()
                    if next_upload == math.inf:  # batch: one pass per upload_interval
                        next_upload = max(now, last_pass + self.config.upload_interval)
                if now >= next_upload:
                    last_pass = now
                    delay = self._upload_pass(box)
                    next_upload = now + delay if self._left(box) else math.inf
                if now >= next_beat:
                    self._beat(box)
                    next_beat = now + self.config.heartbeat_interval
                self._wake.wait(max(0.0, min(next_beat, next_upload) - self.clock()))
        finally:
            box.close()

    def _upload_pass(self, box: Outbox) -> float:
        """Send everything queued, batch by batch; returns the wait before the next pass."""
        try:
            while self._upload_batch(box) and not self._stop.is_set():
                pass
        except FleetError as e:
            self._failures += 1
            backoff = self.config.upload_interval * 2.0 ** min(self._failures, 16)
            delay = min(self.config.retry_max_s, backoff)
            log.warning("event upload failed (%s); retrying in %.0f s", e, delay)
            return delay * self.rng.uniform(0.8, 1.0)
        except Exception:  # a bug or a disk error must not end the thread
            log.exception("event upload failed")
            return self.config.retry_max_s
        finally:
            self._checkpoint(box)
        if self._failures:
            log.info("event upload works again")
        self._failures = 0
        return self.config.upload_interval

    def _left(self, box: Outbox) -> bool:
        """Whether a pass must follow on its own: the hub failed or events are still queued."""
        try:
            return self._failures > 0 or len(box) > 0
        except sqlite3.Error:
            return True

    def _checkpoint(self, box: Outbox) -> None:
        """Fsync what the main loop committed (it commits without fsync), hub up or down."""
        try:
            box.checkpoint()
        except sqlite3.Error as e:
            log.warning("outbox checkpoint: %s", e)

    def _upload_batch(self, box: Outbox) -> bool:
        """One batch of at most batch_size events and batch_bytes; True if more may wait.

        Rows queued before the records had bounds are fitted now, or dropped if they cannot be:
        nothing in the queue can hold up the events behind it."""
        queued = box.batch(self.config.batch_size)
        if not queued:
            return False
        batch: list[tuple[str, dict[str, Any]]] = []
        unsendable: list[str] = []
        size = 4096  # the envelope, and room for how the client spaces its JSON
        for q in queued:
            record = _sendable(q.record)
            if record is None:
                unsendable.append(q.id)
                continue
            size += len(json.dumps({"id": q.id, "record": record})) + 2
            if batch and size > self.batch_bytes:
                break
            batch.append((q.id, record))
        if unsendable:
            log.error("dropped %d queued events the hub could never take", len(unsendable))
            box.ack_ids(unsendable)
        more = len(queued) == self.config.batch_size or len(batch) + len(unsendable) < len(queued)
        if not batch:
            return more
        sent = {id_ for id_, _ in batch}
        try:
            answer = self.client.upload(batch)
        except FleetError as e:
            if e.status_code == 413:
                self.batch_bytes = max(self.batch_bytes // 2, 16 * 1024)
            raise
        done = [i for i in [*answer.acked, *answer.rejected] if i in sent]
        for id_, reason in answer.rejected.items():
            log.error("the hub refused event %s for good: %s", id_, reason)
        box.ack_ids(done)
        self.uploaded += len(answer.acked)
        if len(done) < len(batch):
            raise FleetError(f"the hub acknowledged {len(done)} of {len(batch)} events")
        return more

    def heartbeat_body(self, box: Outbox) -> dict[str, Any]:
        """This booth's heartbeat, fitted to kiosk.fleet.records.Heartbeat."""
        status = self.status()
        try:
            disk_free: int | None = shutil.disk_usage(self.state_dir).free
        except OSError:
            disk_free = None
        return fit_heartbeat(
            {
                "version": __version__,
                "set": status.set,
                "set_version": status.set_version,
                "sync_state": status.sync_state,
                "sync_reason": status.sync_reason,
                "last_lift": status.last_lift,
                "audio_ok": status.audio_ok,
                "hook_ok": status.hook_ok,
                "disk_free_bytes": disk_free,
                "uptime_s": round(self.clock() - self.started, 1),
                "sent_at": self.wall(),
                "clock_offset_s": self.clock_offset_s,
                "events_dropped": box.dropped(),
                "queue_len": len(box),
                "heartbeat_interval": self.config.heartbeat_interval,
                **self._update_fields(status),
            }
        )

    def _update_fields(self, status: BoothStatus) -> dict[str, str]:
        if self.update_status_file is None:
            return {}
        helper = read_status(self.update_status_file)
        return {k: v for k, v in update_fields(status, helper).items() if v}

    def _beat(self, box: Outbox) -> None:
        try:
            sent = self.wall()
            answer = self.client.heartbeat(self.heartbeat_body(box))
            server = answer.get("server_time")
            if isinstance(server, int | float):
                # booth minus hub, assuming the hub stamped the middle of the round trip
                self.clock_offset_s = round((sent + self.wall()) / 2 - server, 3)
        except FleetError as e:
            log.warning("heartbeat failed: %s", e)
        except Exception:
            log.exception("heartbeat failed")


def _sendable(record: dict[str, Any]) -> dict[str, Any] | None:
    """`record` as the hub takes it (an EventRecord), fitted if it was queued unchecked."""
    at = record.get("at")
    if isinstance(at, bool) or not isinstance(at, int | float):
        return None
    return fit_event(record, at)
