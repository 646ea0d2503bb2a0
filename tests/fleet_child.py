"""A booth's event path without audio: the real Outbox and the real fleet thread.

    python -m tests.fleet_child STATE_DIR START END

Prints "ready" once its imports are done, then queues events numbered START..END-1 (field `n`)
a few per commit, as the main loop would, while the FleetWorker uploads them to the hub named in
STATE_DIR/fleet.json. It then keeps uploading until killed (tests/integration/test_fleet.py
kills it with SIGKILL at random points).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from kiosk.config import FleetConfig
from kiosk.fleet import identity
from kiosk.fleet.client import HubClient, HubLimits
from kiosk.fleet.status import BoothStatus
from kiosk.fleet.worker import FleetWorker
from kiosk.outbox import Outbox

CONFIG = FleetConfig(
    heartbeat_interval=5, upload_interval=0.02, batch_size=7, retry_max_s=0.1, timeout_s=2
)


def main(argv: list[str]) -> int:
    state_dir, start, end = Path(argv[0]), int(argv[1]), int(argv[2])
    me = identity.load(state_dir)
    assert me is not None
    outbox = Outbox(state_dir / "outbox.sqlite3")
    worker = FleetWorker(
        HubClient(me, HubLimits(2, 2)), outbox.path, CONFIG, BoothStatus, state_dir
    )
    outbox.on_commit = worker.wake  # as kiosk.cli wires them
    worker.start()
    print("ready", flush=True)
    rng = random.Random()
    n = start
    while n < end:
        for _ in range(rng.randint(1, 3)):
            if n < end:
                record = {"event": "clip_end", "t": time.monotonic(), "clip": "c.opus"}
                outbox.publish({**record, "set": "s", "listened_ms": n, "finished": True, "n": n})
                n += 1
        outbox.flush()
        time.sleep(0.002)
    print("done", flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
