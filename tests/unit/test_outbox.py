"""The durable event queue on a real SQLite file."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kiosk.outbox import Outbox


def test_publish_flush_batch_ack(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.sqlite3")
    box.publish({"event": "lift", "t": 1.0})
    box.publish({"event": "hangup", "t": 2.0, "held_ms": 1000})
    assert len(box) == 0  # buffered until the loop's flush
    assert box.flush() == 2
    batch = box.batch()
    assert [q.record["event"] for q in batch] == ["lift", "hangup"]
    assert len({q.id for q in batch}) == 2 and all(len(q.id) == 32 for q in batch)
    box.ack(batch[0].seq)
    assert [q.record["event"] for q in box.batch()] == ["hangup"]
    box.close()
    again = Outbox(tmp_path / "outbox.sqlite3")
    assert [q.id for q in again.batch()] == [batch[1].id]  # same id after a restart
    again.close()


def test_bounded_drops_the_oldest_and_counts(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", max_events=10)
    for i in range(25):
        box.publish({"event": "lift", "n": i})
        if i % 4 == 0:
            box.flush()
    box.flush()
    assert len(box) == 10 and box.dropped() == 15
    assert [q.record["n"] for q in box.batch()] == list(range(15, 25))
    box.close()


CHILD = """
import sys
from pathlib import Path
from kiosk.outbox import Outbox
box = Outbox(Path(sys.argv[1]))
n = 0
while True:
    for _ in range(3):
        box.publish({"event": "clip_start", "n": n})
        n += 1
    box.flush()
    print(n, flush=True)
"""


def test_every_flushed_event_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    committed = 0
    deadline = time.monotonic() + 10
    while committed < 3000 and time.monotonic() < deadline:
        committed = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    box = Outbox(path)
    numbers = [q.record["n"] for q in box.batch(limit=1_000_000)]
    box.close()
    assert numbers[:committed] == list(range(committed))  # nothing flushed is lost
    assert numbers == list(range(len(numbers)))  # nothing doubled, no gaps


def test_wall_clock_stamp_and_ack_by_id_from_a_second_connection(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", wall=lambda: 1234.5)
    for i in range(3):
        box.publish({"event": "lift", "n": i})
    box.flush()
    reader = Outbox(tmp_path / "o.sqlite3")  # the fleet thread's own connection
    batch = reader.batch()
    assert [q.record["at"] for q in batch] == [1234.5] * 3
    reader.ack_ids([batch[0].id, batch[2].id])
    reader.checkpoint()
    assert [q.record["n"] for q in box.batch()] == [1]
    reader.close()
    box.close()
