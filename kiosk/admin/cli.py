"""`kiosk-admin`: keys, and publishing clip sets into the signed content repository.

Destinations: `--repo DIR` writes a repository folder directly (it needs the online keys too);
`--hub URL` uploads to the hub, which holds the online keys (token: KIOSK_HUB_TOKEN or
--token-file FILE, - for standard input; https unless the hub is on this machine or --insecure).
The root key is only needed for `init` and `rotate-key`; keep it offline otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from kiosk.admin import booths
from kiosk.admin.destination import Destination, HubDestination, LocalDestination
from kiosk.admin.progress import ProgressBar
from kiosk.admin.publish import Loudness, PublishError
from kiosk.admin.publishing import assign, current_manifest, next_targets, publish, retire
from kiosk.content.keys import KeyError_, KeyStore
from kiosk.content.repository import Repository, RepositoryError
from kiosk.credentials import CredentialError, check_hub_url, read_token
from kiosk.errors import ConfigError

CONFIG_HOME = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "kiosk-admin"
ONLINE = ("snapshot", "timestamp")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kiosk-admin", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--repo", type=Path, help="a repository folder")
    where.add_argument("--hub", help="the hub's URL, e.g. http://127.0.0.1:8765")
    parser.add_argument(
        "--token-file", type=Path, help="a file holding the hub's admin token (- for stdin)"
    )
    parser.add_argument("--token", help=argparse.SUPPRESS)  # old: shows the token in ps
    parser.add_argument("--insecure", action="store_true", help="allow a plain http:// hub")
    parser.add_argument(
        "--keys", type=Path, default=CONFIG_HOME / "keys", help="root and targets keys"
    )
    parser.add_argument(
        "--online-keys",
        type=Path,
        default=CONFIG_HOME / "online",
        help="snapshot and timestamp keys (they move to the hub's data folder)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create the keys and an empty repository (--repo only)")
    pub = sub.add_parser("publish", help="publish a clip-set folder as the next set version")
    pub.add_argument("folder", type=Path)
    pub.add_argument("--set", dest="set_name", required=True)
    pub.add_argument("--lufs", type=float, default=-20.0, help="integrated loudness target")
    pub.add_argument("--true-peak", type=float, default=-1.0, help="true-peak ceiling, dBTP")
    pub.add_argument("--max-seconds", type=float, default=600.0)
    sub.add_parser("sets", help="list the published sets")
    show = sub.add_parser("show", help="show a set's clips")
    show.add_argument("name")
    ret = sub.add_parser("retire", help="publish a set version without one clip")
    ret.add_argument("name")
    ret.add_argument("clip")
    asg = sub.add_parser("assign", help="make booths of a group follow a set")
    asg.add_argument("group")
    asg.add_argument("set_name", metavar="set")
    rot = sub.add_parser("rotate-key", help="replace the targets, snapshot or timestamp key")
    rot.add_argument("role", choices=("targets", "snapshot", "timestamp"))
    booths.add_parser(sub)
    args = parser.parse_args(argv)
    keys, online = KeyStore(args.keys), KeyStore(args.online_keys)
    try:
        if args.hub:
            check_hub_url(args.hub, args.insecure)
            args.token = read_token(
                flag=args.token,
                file=args.token_file,
                env=dict(os.environ),
                env_name="KIOSK_HUB_TOKEN",
            )
        if args.command in ("init", "rotate-key"):
            if args.repo is None:
                print(
                    f"error: {args.command} works on a repository folder (--repo)", file=sys.stderr
                )
                return 2
            repo = Repository(args.repo)
            if args.command == "init":
                return _init(repo, keys, online)
            return _rotate(repo, keys, online, args.role)
        if args.command == "booth":
            if not args.hub:
                raise RepositoryError("booth commands need --hub")
            return booths.run(args, booths.BoothApi(args.hub, args.token))
        dest = _destination(args, keys, online)
        match args.command:
            case "publish":
                loudness = Loudness(args.lufs, args.true_peak, args.max_seconds)
                done = publish(
                    args.folder,
                    args.set_name,
                    dest,
                    keys.signer("targets"),
                    loudness,
                    dt.date.today(),
                    progress=ProgressBar(),
                )
                for warning in done.warnings:
                    print(f"warning: {warning}", file=sys.stderr)
                print(
                    f"published {done.name} version {done.version}: {done.clips} clips, "
                    f"{done.new_clips} new ({done.new_bytes / 1024:.0f} KiB uploaded)"
                )
            case "sets":
                for path in sorted(dest.current_targets().signed.targets):
                    if path.startswith("sets/"):
                        manifest = current_manifest(dest, path.split("/")[1])
                        assert manifest is not None
                        count = len(manifest.clips)
                        print(f"{manifest.name}\tversion {manifest.version}\t{count} clips")
            case "show":
                manifest = current_manifest(dest, args.name)
                if manifest is None:
                    raise LookupError(f"no set {args.name!r}")
                print(f"{manifest.name} version {manifest.version}, published {manifest.published}")
                for clip in manifest.clips:
                    expires = f"  expires {clip.expires}" if clip.expires else ""
                    print(f"  {clip.file}\t{clip.title!r} - {clip.speaker}{expires}")
            case "assign":
                groups = assign(dest, keys.signer("targets"), args.group, args.set_name)
                print(f"assignments: {groups}")
            case "retire":
                manifest = retire(dest, keys.signer("targets"), args.name, args.clip)
                print(f"retired {args.clip} from {args.name}: version {manifest.version}")
        return 0
    except (PublishError, ConfigError) as e:
        print("\n".join(e.problems), file=sys.stderr)
        print("nothing was published", file=sys.stderr)
        return 2
    except (RepositoryError, KeyError_, LookupError, CredentialError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"error: {e.filename}: no such file (run init first?)", file=sys.stderr)
        return 2


def _destination(args: argparse.Namespace, keys: KeyStore, online: KeyStore) -> Destination:
    if args.hub:
        return HubDestination(args.hub, args.token, keys.public("targets"))
    signers = {r: online.signer(r) for r in ONLINE}
    return LocalDestination(Repository(args.repo), signers, keys.public("targets"))


def _init(repo: Repository, keys: KeyStore, online: KeyStore) -> int:
    for store, role in (
        (keys, "root"),
        (keys, "targets"),
        (online, "snapshot"),
        (online, "timestamp"),
    ):
        if not store.has(role):
            store.generate(role)
    repo.create(keys.signer("root"), keys.signer("targets"), {r: online.signer(r) for r in ONLINE})
    print(f"repository created in {repo.folder}")
    print(f"keep {keys.folder / 'root.pem'} offline; booths trust {repo.metadata / '1.root.json'}")
    return 0


def _rotate(repo: Repository, keys: KeyStore, online: KeyStore, role: str) -> int:
    store = keys if role == "targets" else online
    store.retire(role)
    new = store.generate(role)
    version = repo.rotate_key(role, keys.signer("root"), new.public_key)
    signers = {r: online.signer(r) for r in ONLINE}
    if role == "targets":  # re-sign the current content with the new key
        targets = next_targets(repo.targets())
        targets.sign(new)
        repo.publish_targets(targets, signers)
    else:
        repo.refresh_timestamp(signers)
    print(f"{role} key rotated: root version {version}; old key kept as {store.folder}/{role}.old*")
    return 0


if __name__ == "__main__":
    sys.exit(main())
