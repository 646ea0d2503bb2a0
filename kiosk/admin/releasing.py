"""`kiosk-admin release`, `assign-release` and `releases` (docs/updates.md).

release DIST --channel stable|canary      a wheel or a wheelhouse folder as a release
release WHEEL --platform [aarch64|armv7]   first build the Pi's wheelhouse with pip download
assign-release GROUP CHANNEL|VERSION       a group follows a channel, or is pinned to a version
releases                                   channels, groups and releases
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from securesystemslib.signer import Signer

from kiosk.admin import wheelhouse
from kiosk.admin.destination import Destination
from kiosk.admin.progress import ProgressBar
from kiosk.admin.release import assign_release, dist_wheels, listing, release
from kiosk.errors import ConfigError
from kiosk.release.manifest import CHANNEL_NAMES

COMMANDS = ("release", "assign-release", "releases")


def add_parsers(sub: Any) -> None:
    rel = sub.add_parser("release", help="publish booth software: a wheel or a wheelhouse")
    rel.add_argument(
        "dist", metavar="DIST", type=Path, help="a wheel, or a folder of wheels (a wheelhouse)"
    )
    rel.add_argument("--channel", required=True, choices=CHANNEL_NAMES, help="the channel to move")
    rel.add_argument(
        "--platform",
        action="append",
        nargs="?",
        const="all",
        choices=(*wheelhouse.PLATFORMS, "all"),
        help="DIST is the project's wheel: add its dependencies for this Pi (both if no value)",
    )
    rel.add_argument(
        "--wheelhouse", type=Path, help="with --platform: keep the wheelhouse in this folder"
    )
    rel.add_argument(
        "--find-links", type=Path, help="with --platform: pip's --find-links (a local wheelhouse)"
    )
    rel.add_argument(
        "--no-index", action="store_true", help="with --platform: pip's --no-index (offline)"
    )
    asg = sub.add_parser(
        "assign-release", help="make booths of a group follow a channel or pin a release"
    )
    asg.add_argument("group", metavar="GROUP", help="a booth group (sync.group on the booths)")
    asg.add_argument(
        "follow", metavar="CHANNEL|VERSION", help="stable, canary, or a published version"
    )
    sub.add_parser("releases", help="list channels, groups and releases")


def run(args: argparse.Namespace, dest: Destination, signer: Signer) -> int:
    match args.command:
        case "release":
            with tempfile.TemporaryDirectory(prefix="kiosk-wheelhouse-") as temp:
                dist = _dist(args, Path(temp))
                done = release(dist, args.channel, dest, signer, progress=ProgressBar())
            rel = done.release
            print(
                f"released {rel.version} on {done.channel}: {len(rel.wheels)} wheels, "
                f"{done.uploaded} uploaded ({done.uploaded_bytes / 1024:.0f} KiB)"
            )
        case "assign-release":
            assign_release(dest, signer, args.group, args.follow)
            print(f"booths in group {args.group} now follow {args.follow} (at their next sync)")
        case "releases":
            print("\n".join(listing(dest)))
    return 0


def _dist(args: argparse.Namespace, temp: Path) -> Path:
    if not args.platform:
        return Path(args.dist)
    (wheel,) = dist_wheels(args.dist) if args.dist.suffix == ".whl" else [None]
    if wheel is None:
        raise ConfigError([f"{args.dist}: with --platform, DIST is the project's wheel"])
    platforms = sorted(wheelhouse.PLATFORMS) if "all" in args.platform else args.platform
    options = ["--no-index"] if args.no_index else []
    if args.find_links:
        options += ["--find-links", str(args.find_links)]
    out = args.wheelhouse or temp
    wheels = wheelhouse.build(wheel, out, sorted(set(platforms)), options)
    print(f"wheelhouse {out}: {len(wheels)} wheels for {', '.join(platforms)}", file=sys.stderr)
    return Path(out)
