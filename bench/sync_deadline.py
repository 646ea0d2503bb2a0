"""How far past its deadline a sync ends when a server trickles: `python -m bench.sync_deadline`.

A signed test repository behind Debian's nginx on loopback, and tests.bad_proxy in front of it
sending one byte every `--pause` seconds at one stage of every response (status line, headers,
a redirect then headers, the body of targets; the headers again over https). For each stage,
`--runs` syncs with a per-file deadline of `--deadline` seconds: the overshoot is the time from
the start of the request that was cut (its deadline armed) to the sync's SyncError, minus the
deadline.

One human line per stage on stdout, then one JSON object with every figure as the last line.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import requests

from bench.common import BenchError, run_main
from kiosk.sync.fetcher import Fetcher, FetchLimits
from kiosk.sync.store import SetStore
from kiosk.sync.updater import Source, Syncer, SyncError
from tests.bad_proxy import BadProxy, Mode
from tests.content import Publisher
from tests.nginx import Nginx, self_signed

STAGES: tuple[Mode, ...] = ("trickle_status", "trickle_headers", "trickle_redirect", "trickle")
TLS_STAGE: Mode = "trickle_headers"


def timed_requests(fetcher: Fetcher) -> list[float]:
    """When each request starts (its file deadline is armed then): wraps `fetcher._get`."""
    starts: list[float] = []
    get = fetcher._get

    def timed(url: str, headers: dict[str, str]) -> tuple[requests.Response, float]:
        starts.append(time.monotonic())
        return get(url, headers)

    fetcher._get = timed  # type: ignore[method-assign]
    return starts


def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    publisher = Publisher(tmp / "admin")
    publisher.publish_clips("lobby", {"a.wav": 0.6})
    figures: dict[str, Any] = {"deadline_s": args.deadline, "pause_s": args.pause}
    cert, key = self_signed(tmp)
    with Nginx(publisher.repo.folder, tmp / "nginx") as nginx:
        for stage, tls in [*((s, False) for s in STAGES), (TLS_STAGE, True)]:
            overshoot_ms = []
            for run in range(args.runs):
                # A fresh booth each run, so every run fetches the set's targets.
                state = tmp / f"booth-{stage}-{run}"
                limits = FetchLimits(
                    read_timeout_s=args.deadline * 10,  # never the one that fires
                    file_deadline_s=args.deadline,
                    sync_deadline_s=args.deadline * 10,
                )
                pem = (cert, key) if tls else None
                with BadProxy(nginx.url, "pass", pause_s=args.pause, tls=pem) as proxy:
                    session = requests.Session()
                    session.verify = str(cert)
                    session.trust_env = False  # else $REQUESTS_CA_BUNDLE wins over `verify`
                    source = Source(proxy.url, publisher.root_json, "lobby")
                    syncer = Syncer(source, SetStore(state), Fetcher(limits, session), state)
                    starts = timed_requests(syncer.fetcher)
                    proxy.mode = stage
                    try:
                        syncer.sync()
                    except SyncError as e:
                        if "deadline" not in e.reason:
                            raise BenchError(f"{stage}: failed otherwise: {e.reason}") from e
                    else:
                        raise BenchError(f"{stage}: the sync succeeded through a trickle")
                    ended = time.monotonic()
                    overshoot_ms.append((ended - starts[-1] - args.deadline) * 1000)
                    syncer.close()
            med, worst = statistics.median(overshoot_ms), max(overshoot_ms)
            name = f"{stage}_https" if tls else stage
            print(
                f"{name:22} deadline {args.deadline:g} s: overshoot median {med:.1f} ms, "
                f"max {worst:.1f} ms ({args.runs} syncs)"
            )
            figures[name] = {"median_ms": round(med, 1), "max_ms": round(worst, 1)}
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sync_deadline", description=__doc__)
    parser.add_argument("--deadline", type=float, default=1.0, help="per-file deadline, s")
    parser.add_argument("--pause", type=float, default=0.05, help="between trickled bytes, s")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    return run_main("bench.sync_deadline", lambda tmp: measure(args, tmp))


if __name__ == "__main__":
    sys.exit(main())
