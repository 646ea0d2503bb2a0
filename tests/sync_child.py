"""`kiosk sync --config FILE` with its imports done ahead, for tests that kill it at a set time.

    python -m tests.sync_child FILE

Imports what `kiosk sync` imports, prints "ready", waits for "go" on stdin and then runs the
real command line, `kiosk.cli.main(["sync", "--config", FILE])`, exiting with its code. A test
that starts it early and times its kill from "go" spends the delay on the sync itself, not on
Python's start-up (tests/integration/test_sync_kill.py).
"""

from __future__ import annotations

import sys

from tuf.ngclient import Updater

import kiosk.cli
from kiosk.sync import fetcher, store, updater

READY = "ready"
GO = "go"
# What `kiosk sync` imports lazily, loaded before "go".
PRELOADED = (fetcher.Fetcher, store.SetStore, updater.Syncer, Updater)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.sync_child FILE", file=sys.stderr)
        return 2
    print(READY, flush=True)
    if sys.stdin.readline().strip() != GO:
        return 2
    return kiosk.cli.main(["sync", "--config", argv[0]])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
