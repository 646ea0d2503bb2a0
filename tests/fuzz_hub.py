"""`python -m tests.fuzz_hub serve --data DATA --port PORT`: the real hub (hub.cli's server)
with its rate limits raised out of the fuzzer's way, so every generated request reaches the
code behind them. tests/integration/test_hub_hostile.py checks the limits themselves."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hub.app import create_app
from hub.cli import serve_app
from hub.ratelimit import RateLimits
from hub.settings import Settings

WIDE_OPEN = RateLimits(
    login_failures="100000/minute",
    enroll_failures="100000/minute",
    events="10000000/minute",
    heartbeats="100000/minute",
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = Settings(args.data, rate_limits=WIDE_OPEN)
    serve_app(create_app(settings), "127.0.0.1", args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
