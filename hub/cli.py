"""`kiosk-hub serve`: the hub on 127.0.0.1 with SQLite and a local data folder by default."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import logging
import sys
from pathlib import Path
from typing import Any

from hub.accesslog import log_config
from hub.ratelimit import RateLimits
from hub.settings import Settings
from kiosk.credentials import is_loopback


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk-hub", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the hub")
    serve.add_argument("--data", type=Path, default=Path("hub-data"), help="the data folder")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    serve.add_argument("--port", type=int, default=8765, help="the TCP port")
    serve.add_argument("--tls-cert", type=Path, help="serve https: the certificate chain (PEM)")
    serve.add_argument("--tls-key", type=Path, help="the certificate's private key (PEM)")
    defaults = RateLimits()
    serve.add_argument(
        "--rate-limit",
        action="append",
        default=[],
        metavar="NAME=RATE",
        help="change a rate limit (repeatable), e.g. heartbeats=60/minute; defaults: "
        + ", ".join(f"{f.name}={getattr(defaults, f.name)}" for f in dataclasses.fields(defaults)),
    )
    token = sub.add_parser("token", help="print the bootstrap admin token")
    token.add_argument("--data", type=Path, default=Path("hub-data"), help="the data folder")
    admin = sub.add_parser("admin", help="named admins: personal tokens, in the audit log")
    admin.add_argument("--data", type=Path, default=Path("hub-data"), help="the data folder")
    # --data is accepted after the admin subcommand too
    later = argparse.ArgumentParser(add_help=False)
    later.add_argument("--data", type=Path, default=argparse.SUPPRESS, help="the data folder")
    acts = admin.add_subparsers(dest="admin_command", required=True)
    add = acts.add_parser(
        "add", parents=[later], help="print a new admin's personal token (shown only now)"
    )
    add.add_argument("name", metavar="NAME", help="lower-case letters, digits, '.', '_', '-'")
    rev = acts.add_parser("revoke", parents=[later], help="end an admin's token and sessions now")
    rev.add_argument("name", metavar="NAME", help="the admin to revoke")
    acts.add_parser("list", parents=[later], help="list admins")
    args = parser.parse_args(argv)
    settings = Settings(args.data)
    if args.command == "token":
        print(settings.admin_token())
        return 0
    if args.command == "admin":
        from hub.admins import run_admin_command
        from hub.migrations import DatabaseTooNew

        try:
            return run_admin_command(settings, args.admin_command, getattr(args, "name", ""))
        except DatabaseTooNew as e:
            print(e, file=sys.stderr)
            return 78
    if (args.tls_cert is None) != (args.tls_key is None):
        print("--tls-cert and --tls-key go together", file=sys.stderr)
        return 64
    try:
        settings = Settings(args.data, rate_limits=defaults.with_overrides(args.rate_limit))
    except ValueError as e:
        print(f"--rate-limit {e}", file=sys.stderr)
        return 64
    if not (settings.repo / "metadata" / "root.json").is_file():
        print(
            f"{settings.repo}: no repository. Create it on the admin's machine with\n"
            f"  kiosk-admin --repo {settings.repo} --online-keys {settings.online_keys} init",
            file=sys.stderr,
        )
        return 78
    from hub.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings.admin_token()
    print(f"admin token in {settings.data / 'admin-token'}", file=sys.stderr)
    if args.tls_cert is None and not is_loopback(args.host):
        print(
            f"warning: plain http on {args.host}: tokens cross the network readable; give "
            "--tls-cert and --tls-key, or put a TLS proxy in front (docs/hub-security.md)",
            file=sys.stderr,
        )
    from hub.migrations import DatabaseTooNew

    try:
        app = create_app(settings)
    except DatabaseTooNew as e:  # a newer hub migrated it: refuse rather than corrupt
        print(e, file=sys.stderr)
        return 78
    serve_app(app, args.host, args.port, args.tls_cert, args.tls_key)
    return 0


def serve_app(
    app: Any, host: str, port: int, tls_cert: Path | None = None, tls_key: Path | None = None
) -> None:
    """uvicorn, after moving every object made so far out of the garbage collector's sight:
    otherwise its full collections walk the imported libraries' objects and stall every
    request for 100-400 ms about every 15 s under load (bench.fleet)."""
    import uvicorn

    gc.collect()
    gc.freeze()
    # Full collections rarely: each walks every object made since the freeze (~60,000, 15-50 ms
    # on the bench machine) while all requests wait. Young ones stay small and frequent, and
    # clear the short-lived cycles a request makes. bench.fleet p99: 170-450 ms -> 32 ms.
    gc.set_threshold(1000, 20, 10_000)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        log_config=log_config(),
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
    )


if __name__ == "__main__":
    sys.exit(main())
