"""`kiosk-hub serve`: the hub on 127.0.0.1 with SQLite and a local data folder by default."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from hub.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk-hub", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the hub")
    serve.add_argument("--data", type=Path, default=Path("hub-data"), help="the data folder")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    token = sub.add_parser("token", help="print the admin token")
    token.add_argument("--data", type=Path, default=Path("hub-data"))
    args = parser.parse_args(argv)
    settings = Settings(args.data)
    if args.command == "token":
        print(settings.admin_token())
        return 0
    if not (settings.repo / "metadata" / "root.json").is_file():
        print(
            f"{settings.repo}: no repository. Create it on the admin's machine with\n"
            f"  kiosk-admin --repo {settings.repo} --online-keys {settings.online_keys} init",
            file=sys.stderr,
        )
        return 78
    import uvicorn

    from hub.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings.admin_token()
    print(f"admin token in {settings.data / 'admin-token'}", file=sys.stderr)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
