"""What consent costs a booth: `python -m bench.consent [--clips N] [--kib K]`.

A booth's store with N cached clips of K KiB, staged into three set versions (hard links, as on
the booth), `current` and `previous` among them. Figures, each the median of 5 runs:

- purge_one_ms: one retired clip deleted from the cache, the active folder, and the two other
  folders holding it (removed whole), fsyncs included: the on-hook work of a retirement;
- register_noop_ms: a sync's purge when the register retires 50 clips this booth never had (the
  cost every sync pays once a register exists);
- register_parse_ms: parsing a register of 1,000 retirements.

Last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from kiosk.content.consent import ConsentRegister, Retirement, parse_register
from kiosk.sync.consent import purge
from kiosk.sync.store import SetStore, StagedClip

RUNS = 5


def build(root: Path, clips: int, kib: int) -> tuple[SetStore, list[StagedClip]]:
    store = SetStore(root)
    staged = []
    for i in range(clips):
        data = i.to_bytes(4, "big") * (kib * 256)
        sha = hashlib.sha256(data).hexdigest()
        part = store.partial_path(sha)
        part.write_bytes(data)
        store.commit_clip(part, sha, "opus")
        staged.append(StagedClip(f"c{i}.opus", sha, "opus"))
    for version in (1, 2, 3):
        store.activate(store.stage("lobby", version, staged, "name: lobby\n"))
    return store, staged


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.consent", description=__doc__)
    parser.add_argument("--clips", type=int, default=300, help="cached clips")
    parser.add_argument("--kib", type=int, default=100, help="size of each clip, KiB")
    args = parser.parse_args(argv)
    purge_s, noop_s = [], []
    for run in range(RUNS):
        with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
            store, staged = build(Path(tmp), args.clips, args.kib)
            absent = {hashlib.sha256(f"absent{i}".encode()).hexdigest() for i in range(50)}
            t0 = time.perf_counter()
            purge(store, absent)
            noop_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            done = purge(store, {staged[run].sha256})
            purge_s.append(time.perf_counter() - t0)
            assert len(done.removed) == 4, done.removed
            print(f"run {run + 1}: purge {purge_s[-1] * 1000:.1f} ms", file=sys.stderr)
    entry = Retirement(
        "0" * 64,
        "1" * 64,
        ("clips/" + "2" * 64 + ".opus",),
        "f.opus",
        "t",
        "s",
        "r",
        "ana",
        "2026-11-30T10:00:00+00:00",
        ("lobby",),
    )
    register = ConsentRegister((entry,) * 1000).to_json()
    parse_s = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        parse_register(register)
        parse_s.append(time.perf_counter() - t0)
    figures = {
        "clips": args.clips,
        "kib": args.kib,
        "purge_one_ms": median_ms(purge_s),
        "register_noop_ms": median_ms(noop_s),
        "register_parse_ms": median_ms(parse_s),
        "register_bytes_1000": len(register),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
