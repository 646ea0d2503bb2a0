"""The booth as `kiosk run` builds it, with a pretend handset driven from stdin.

`kiosk run` queues every event in the durable outbox and syncs content; `kiosk simulate
--headless` has the stdin commands but no outbox. This child is both, so the SD-card bench and
the read-only-root test exercise every write the daemon makes:

    python -m tests.run_child --config FILE     # stdin: lift, hangup, sleep S, quit

One JSON event per line on stdout, log lines on stderr (journald's share under systemd).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from kiosk.app import Booth
from kiosk.cli import _stop_on_signals
from kiosk.config import load_config
from kiosk.eventlog import EventSink, JsonLinesSink, LogSink
from kiosk.outbox import Outbox
from kiosk.simulate import SimulatedHook
from kiosk.systemd import Notifier, setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_child")
    parser.add_argument("--config", type=Path, required=True)
    config = load_config(parser.parse_args(argv).config)
    setup_logging(config.log_level)
    factory = MockFactory()
    outbox = Outbox(Path(config.state_dir) / "outbox.sqlite3")
    sinks: list[EventSink] = [LogSink(), outbox, JsonLinesSink(sys.stdout)]
    booth = Booth(config, sinks, Notifier(), pin_factory=factory)
    _stop_on_signals(booth.request_stop)
    # As under `kiosk run`, the booth's loop owns the main thread (the outbox's SQLite
    # connection belongs to it); the handset commands come from a helper thread.
    hook = SimulatedHook(factory, config.hook)
    commands = threading.Thread(target=_drive, args=(booth, hook), name="stdin", daemon=True)
    commands.start()
    try:
        booth.run()
    finally:
        outbox.close()
    return 0


def _drive(booth: Booth, hook: SimulatedHook) -> None:
    """The headless simulator's commands, then stop the booth (at `quit` or end of input)."""
    if not booth.ready.wait(60):
        booth.request_stop()
        return
    hook.hangup()
    for line in sys.stdin:
        command, *args = line.split() or [""]
        if command == "lift":
            hook.lift()
        elif command == "hangup":
            hook.hangup()
        elif command == "sleep" and args:
            time.sleep(float(args[0]))
        elif command == "quit":
            break
    booth.request_stop()


if __name__ == "__main__":
    sys.exit(main())
