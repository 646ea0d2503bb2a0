"""What trusting nothing on disk costs: `python -m bench.sync_verify [--size-mb N]`.

Figures:

1. sha256 of a `--size-mb` file (kiosk.sync.verify.file_sha256): MB/s and ms per MB, from the
   page cache (warm) and after posix_fadvise(DONTNEED) evicts it (cold: read from the disk);
2. a no-op sync of a `--size-mb` set of `--clips` clips against Debian's nginx on loopback:
   its wall time, median of `--runs`, now that the staged folder is checked by content (every
   clip hashed), and the same sync with that check skipped, for the difference.

One human line per figure on stdout, then one JSON object with every figure as the last line.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import run_main
from bench.sync import MB, Admin, bulk_clips, make_bulk, new_syncer
from kiosk.sync import verify
from kiosk.sync.updater import Syncer
from tests.nginx import Nginx


def evict(path: Path) -> None:
    """Drop a file's pages from the page cache, so the next read comes from the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def hash_rate(path: Path, runs: int, cold: bool) -> float:
    """Median MB/s of file_sha256 over `runs`."""
    rates = []
    for _ in range(runs):
        if cold:
            evict(path)
        started = time.perf_counter()
        verify.file_sha256(path)
        rates.append(path.stat().st_size / MB / (time.perf_counter() - started))
    return statistics.median(rates)


def noop_seconds(syncer: Syncer, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        syncer.sync()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {"size_mb": args.size_mb}
    big = tmp / "big.bin"
    with big.open("wb") as f:
        for _ in range(int(args.size_mb)):
            f.write(os.urandom(MB))
    for label, cold in (("warm", False), ("cold", True)):
        rate = hash_rate(big, args.runs, cold)
        print(f"sha256 {label}: {rate:.0f} MB/s, {1000 / rate:.2f} ms per MB ({args.size_mb} MB)")
        figures[f"sha256_{label}_mb_s"] = round(rate, 1)
        figures[f"sha256_{label}_ms_per_mb"] = round(1000 / rate, 2)
    big.unlink()

    admin = Admin(tmp / "admin")
    infos = make_bulk(admin, args.clips, args.size_mb / args.clips, seed=1)
    admin.publish_set("bulk", bulk_clips(infos), infos)
    with Nginx(admin.repo.folder, tmp / "nginx") as nginx:
        syncer = new_syncer(admin, nginx, tmp / "booth", "bulk")
        try:
            syncer.store.activate(syncer.sync().folder)
            checked = noop_seconds(syncer, args.runs)
            real_check: Callable[..., list[str]] = verify.bad_files
            verify.bad_files = lambda folder, manifest: []
            try:
                unchecked = noop_seconds(syncer, args.runs)
            finally:
                verify.bad_files = real_check
        finally:
            syncer.close()
    print(
        f"no-op sync of a {args.size_mb} MB set ({args.clips} clips): {checked * 1000:.0f} ms "
        f"with every clip hashed, {unchecked * 1000:.0f} ms without (page cache warm)"
    )
    figures["noop_checked_ms"] = round(checked * 1000, 1)
    figures["noop_unchecked_ms"] = round(unchecked * 1000, 1)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sync_verify", description=__doc__)
    parser.add_argument("--size-mb", type=int, default=64)
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    return run_main("bench.sync_verify", lambda tmp: measure(args, tmp))


if __name__ == "__main__":
    sys.exit(main())
