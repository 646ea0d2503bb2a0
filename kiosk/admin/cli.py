"""`kiosk-admin`: keys, and publishing clip sets into the signed content repository.

Destinations: `--repo DIR` writes a repository folder directly (it needs the online keys too);
`--hub URL` uploads to the hub, which holds the online keys (token: --token or KIOSK_HUB_TOKEN).
Root keys live in their own folder (--root-keys), only needed for `init` and `rotate-key`: keep
it offline otherwise. Root and targets keys are encrypted; their passphrases come from
KIOSK_ADMIN_ROOT_PASSPHRASE / KIOSK_ADMIN_PASSPHRASE, --root-passphrase-file /
--passphrase-file, or a prompt (never from the command line). See docs/keys.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from tuf.api.exceptions import UnsignedMetadataError

from kiosk.admin import booths, keyring
from kiosk.admin.destination import Destination, HubDestination, LocalDestination
from kiosk.admin.passphrase import PIN_ENV, ROOT_ENV, TARGETS_ENV, PassphraseSource
from kiosk.admin.progress import ProgressBar
from kiosk.admin.publish import Loudness, PublishError
from kiosk.admin.publishing import assign, current_manifest, publish, retire
from kiosk.content.keys import KeyError_, KeyStore
from kiosk.content.repository import Repository, RepositoryError
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
    parser.add_argument("--token", default=os.environ.get("KIOSK_HUB_TOKEN", ""))
    parser.add_argument("--keys", type=Path, default=CONFIG_HOME / "keys", help="the targets key")
    parser.add_argument(
        "--root-keys",
        type=Path,
        help=f"the root keys, kept offline (default: {keyring.ROOT_FOLDER}/ beside --keys)",
    )
    parser.add_argument("--passphrase-file", type=Path, help=f"targets key (or ${TARGETS_ENV})")
    parser.add_argument("--root-passphrase-file", type=Path, help=f"root keys (or ${ROOT_ENV})")
    parser.add_argument("--token-pin-file", type=Path, help=f"hardware token's PIN (or ${PIN_ENV})")
    parser.add_argument(
        "--online-keys",
        type=Path,
        default=CONFIG_HOME / "online",
        help="snapshot and timestamp keys (they move to the hub's data folder)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    ini = sub.add_parser("init", help="create the keys and an empty repository (--repo only)")
    ini.add_argument("--root-count", type=int, default=1, help="root keys to make (e.g. 3)")
    ini.add_argument("--root-threshold", type=int, default=1, help="root keys to sign (e.g. 2)")
    ini.add_argument(
        "--no-passphrase", action="store_true", help="unencrypted keys: for a demo or a test only"
    )
    ini.add_argument(
        "--targets-token-key",
        type=int,
        metavar="ID",
        help="the targets key is key ID on a PKCS#11 hardware token (2: a YubiKey's PIV slot 9c)",
    )
    sub.add_parser("fingerprint", help="the sha256 of the root booths trust (--repo only)")
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
    rot = sub.add_parser("rotate-key", help="replace a root, targets, snapshot or timestamp key")
    rot.add_argument("role", choices=("root", "targets", "snapshot", "timestamp"))
    rot.add_argument("--key", help="with root: which root key to replace, e.g. root-2")
    rot.add_argument(
        "--token-key", type=int, metavar="ID", help="with targets: key ID on a hardware token"
    )
    booths.add_parser(sub)
    args = parser.parse_args(argv)
    targets_pass = PassphraseSource("targets", TARGETS_ENV, args.passphrase_file)
    root_pass = PassphraseSource(
        "root", ROOT_ENV, args.root_passphrase_file, "--root-passphrase-file"
    )
    pin = PassphraseSource("hardware token PIN", PIN_ENV, args.token_pin_file, "--token-pin-file")
    keys, online = KeyStore(args.keys, targets_pass, pin), KeyStore(args.online_keys)
    root_keys = KeyStore(args.root_keys or args.keys.parent / keyring.ROOT_FOLDER, root_pass)
    ring = keyring.Keyring(root_keys, keys, online)
    try:
        if args.command in ("init", "rotate-key", "fingerprint"):
            if args.repo is None:
                print(
                    f"error: {args.command} works on a repository folder (--repo)", file=sys.stderr
                )
                return 2
            repo = Repository(args.repo)
            if args.command == "init":
                targets_pass.new = root_pass.new = True
                return _init(repo, ring, args)
            if args.command == "fingerprint":
                print(keyring.fingerprint(repo.metadata / "1.root.json"))
                return 0
            return _rotate(repo, ring, args.role, args.key, args.token_key)
        if args.command == "booth":
            if not args.hub or not args.token:
                raise RepositoryError("booth commands need --hub and --token (or KIOSK_HUB_TOKEN)")
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
    except (RepositoryError, KeyError_, LookupError, UnsignedMetadataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"error: {e.filename}: no such file (run init first?)", file=sys.stderr)
        return 2


def _destination(args: argparse.Namespace, keys: KeyStore, online: KeyStore) -> Destination:
    if args.hub:
        if not args.token:
            raise RepositoryError("--hub needs --token or KIOSK_HUB_TOKEN")
        return HubDestination(args.hub, args.token, keys.public("targets"))
    signers = {r: online.signer(r) for r in ONLINE}
    return LocalDestination(Repository(args.repo), signers, keys.public("targets"))


def _init(repo: Repository, ring: keyring.Keyring, args: argparse.Namespace) -> int:
    made = keyring.init(
        repo,
        ring,
        args.root_count,
        args.root_threshold,
        encrypt=not args.no_passphrase,
        targets_token_key=args.targets_token_key,
    )
    print(f"repository created in {repo.folder}")
    print(f"root keys ({made.threshold} of {len(made.root_keys)} sign a new root):")
    for pem in made.root_keys:
        print(f"  {pem}")
    print(f"move {ring.root.folder} offline now; it is needed only for rotate-key")
    print(f"booths trust {made.root_json}; give facilities the file and its fingerprint:")
    print(f"root sha256: {made.fingerprint}")
    if args.no_passphrase:
        print("warning: the keys are NOT encrypted (--no-passphrase)", file=sys.stderr)
    return 0


def _rotate(
    repo: Repository, ring: keyring.Keyring, role: str, key: str | None, token_key: int | None
) -> int:
    version, retired = keyring.rotate(repo, ring, role, key, token_key)
    name = key if role == "root" and key else role
    print(f"{name} key rotated: root version {version}; old key kept as {retired}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
