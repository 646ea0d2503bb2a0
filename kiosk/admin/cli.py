"""`kiosk-admin`: keys, and publishing clip sets into the signed content repository.

Destinations: `--repo DIR` writes a repository folder directly (it needs the online keys too);
`--hub URL` uploads to the hub, which holds the online keys (token: KIOSK_HUB_TOKEN or
--token-file FILE, - for standard input; https unless the hub is on this machine or --insecure).
Options go before or after the subcommand, and also come from the environment (KIOSK_HUB_URL,
KIOSK_HUB_TOKEN, KIOSK_ADMIN_NAME) or ~/.config/kiosk-admin/config.yaml (kiosk.admin.options).
Root keys live in their own folder (--root-keys), only needed for `init` and `rotate-key`: keep
it offline otherwise. Root and targets keys are encrypted; their passphrases come from
KIOSK_ADMIN_ROOT_PASSPHRASE / KIOSK_ADMIN_PASSPHRASE, --root-passphrase-file /
--passphrase-file, or a prompt (never from the command line). See docs/keys.md.
Consent: `retire`, `consent`, `publish --reinstate` and `rollback` (docs/consent.md).
Software: `release`, `assign-release` and `releases` (docs/updates.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from tuf.api.exceptions import UnsignedMetadataError

from kiosk.admin import booths, changes, keyring, releasing
from kiosk.admin.destination import Destination, HubDestination, LocalDestination
from kiosk.admin.newset import starter_clipset
from kiosk.admin.options import add_common, resolve
from kiosk.admin.passphrase import PIN_ENV, ROOT_ENV, TARGETS_ENV, PassphraseSource
from kiosk.admin.progress import ProgressBar
from kiosk.admin.publish import Loudness, PublishError
from kiosk.admin.publishing import assign, current_manifest, publish
from kiosk.content.keys import KeyError_, KeyStore
from kiosk.content.repository import Repository, RepositoryError
from kiosk.credentials import CredentialError, check_hub_url, read_token
from kiosk.errors import ConfigError

ONLINE = ("snapshot", "timestamp")
REPO_ONLY = ("init", "rotate-key", "fingerprint")  # they work on a repository folder


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand; the common options (kiosk.admin.options) go before or after it."""
    parser = argparse.ArgumentParser(
        prog="kiosk-admin", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
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
    pub.add_argument("folder", type=Path, help="a clip-set folder: audio files + clipset.yaml")
    pub.add_argument("--set", dest="set_name", required=True, help="the set to publish it as")
    pub.add_argument("--lufs", type=float, default=-20.0, help="integrated loudness target")
    pub.add_argument("--true-peak", type=float, default=-1.0, help="true-peak ceiling, dBTP")
    pub.add_argument("--max-seconds", type=float, default=600.0, help="longest clip allowed")
    pub.add_argument(
        "--reinstate",
        metavar="FILE",
        action="append",
        default=[],
        help="publish this retired file again (needs --reason; recorded in the consent register)",
    )
    pub.add_argument(
        "--reason", metavar="TEXT", default="", help="why the --reinstate files may play again"
    )
    pub.add_argument(
        "--dry-run", action="store_true", help="check and encode everything, upload nothing"
    )
    sub.add_parser("sets", help="list the published sets")
    show = sub.add_parser("show", help="show a set's clips")
    show.add_argument("name", metavar="SET", help="the set")
    new = sub.add_parser("new-set", help="write a starter clipset.yaml from a folder's audio")
    new.add_argument("folder", metavar="FOLDER", type=Path, help="a folder of audio files")
    ret = sub.add_parser("retire", help="withdraw a clip's consent: it plays nowhere again")
    ret.add_argument("name", metavar="SET", help="a set that plays the clip")
    ret.add_argument("clip", metavar="CLIP", help="the clip's file name or its stem")
    ret.add_argument(
        "--reason", metavar="TEXT", required=True, help="why (kept in the consent register)"
    )
    ret.add_argument(
        "--all-sets", action="store_true", help="also retire it from every other set playing it"
    )
    rol = sub.add_parser("rollback", help="republish an earlier version of a set as a new one")
    rol.add_argument("name", metavar="SET", help="the set to roll back")
    rol.add_argument("version", metavar="VERSION", type=int, help="the version to bring back")
    sub.add_parser("consent", help="list retired clips and every clip's consent expiry")
    asg = sub.add_parser("assign", help="make booths of a group follow a set")
    asg.add_argument("group", metavar="GROUP", help="a booth group (sync.group on the booths)")
    asg.add_argument("set_name", metavar="SET", help="the set its booths will play")
    sub.add_parser("assignments", help="list which set each booth group plays")
    rot = sub.add_parser("rotate-key", help="replace a root, targets, snapshot or timestamp key")
    rot.add_argument(
        "role", choices=("root", "targets", "snapshot", "timestamp"), help="the key to replace"
    )
    rot.add_argument("--key", help="with root: which root key to replace, e.g. root-2")
    rot.add_argument(
        "--token-key", type=int, metavar="ID", help="with targets: key ID on a hardware token"
    )
    booths.add_parser(sub)
    releasing.add_parsers(sub)
    add_common(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        resolve(args)
    except ConfigError as e:
        print("\n".join(e.problems), file=sys.stderr)
        return 2
    if args.command == "new-set":
        try:
            written, count = starter_clipset(args.folder)
        except ConfigError as e:
            print("\n".join(e.problems), file=sys.stderr)
            return 2
        print(f"wrote {written} with {count} clips: fill in each speaker and expiry")
        return 0
    if args.command not in REPO_ONLY and not (args.repo or args.hub):
        print("error: give --repo DIR or --hub URL (or KIOSK_HUB_URL)", file=sys.stderr)
        return 2
    targets_pass = PassphraseSource("targets", TARGETS_ENV, args.passphrase_file)
    root_pass = PassphraseSource(
        "root", ROOT_ENV, args.root_passphrase_file, "--root-passphrase-file"
    )
    pin = PassphraseSource("hardware token PIN", PIN_ENV, args.token_pin_file, "--token-pin-file")
    keys, online = KeyStore(args.keys, targets_pass, pin), KeyStore(args.online_keys)
    root_keys = KeyStore(args.root_keys or args.keys.parent / keyring.ROOT_FOLDER, root_pass)
    ring = keyring.Keyring(root_keys, keys, online)
    try:
        if args.hub:
            check_hub_url(args.hub, args.insecure)
            args.token = read_token(
                flag=args.token_flag,
                file=args.token_file,
                env={"KIOSK_HUB_TOKEN": "" if args.token_flag else args.token},
                env_name="KIOSK_HUB_TOKEN",
            )
        if args.command in REPO_ONLY:
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
            if not args.hub:
                raise RepositoryError("booth commands need --hub")
            return booths.run(args, booths.BoothApi(args.hub, args.token))
        dest = _destination(args, keys, online)
        if args.command in releasing.COMMANDS:
            return releasing.run(args, dest, keys.signer("targets"))
        match args.command:
            case "publish":
                if args.reinstate and not args.reason.strip():
                    raise RepositoryError("--reinstate needs --reason (the register records why)")
                loudness = Loudness(args.lufs, args.true_peak, args.max_seconds)
                done = publish(
                    args.folder,
                    args.set_name,
                    dest,
                    keys.signer("targets"),
                    loudness,
                    dt.date.today(),
                    progress=ProgressBar(),
                    by=args.admin,
                    reinstate={f: args.reason.strip() for f in args.reinstate},
                    dry_run=args.dry_run,
                )
                for warning in done.warnings:
                    print(f"warning: {warning}", file=sys.stderr)
                if args.dry_run:
                    print(f"dry run: {done.name} would become version {done.version}:")
                    print("\n".join(f"  {line}" for line in done.changes) or "  no change")
                    print(f"  {done.new_clips} new clips, {done.new_bytes / 1024:.0f} KiB")
                    print("nothing was uploaded")
                else:
                    print(
                        f"published {done.name} version {done.version}: {done.clips} clips, "
                        f"{done.new_clips} new ({done.new_bytes / 1024:.0f} KiB uploaded)"
                    )
            case "sets":
                for name, current in changes.sets_of(dest).items():
                    print(f"{name}\tversion {current.version}\t{len(current.clips)} clips")
            case "show":
                manifest = current_manifest(dest, args.name)
                if manifest is None:
                    raise LookupError(f"no set {args.name!r}")
                print(f"{manifest.name} version {manifest.version}, published {manifest.published}")
                for clip in manifest.clips:
                    expires = f"  expires {clip.expires}" if clip.expires else ""
                    print(f"  {clip.file}\t{clip.title!r} - {clip.speaker}{expires}")
            case "assign":
                assign(dest, keys.signer("targets"), args.group, args.set_name)
                print(
                    f"booths in group {args.group} now play set {args.set_name} "
                    "(at their next sync)"
                )
            case "assignments":
                groups = changes.assignments(dest)
                for group, set_name in sorted(groups.items()):
                    print(f"{group}\t{set_name}")
                if not groups:
                    print("no group is assigned a set (kiosk-admin assign GROUP SET)")
            case "retire":
                gone = changes.retire(
                    dest,
                    keys.signer("targets"),
                    args.name,
                    args.clip,
                    args.reason,
                    args.admin,
                    args.all_sets,
                )
                versions = ", ".join(f"{n} version {v}" for n, v in gone.versions.items())
                print(f"retired {gone.retirement.file}: {versions}")
            case "rollback":
                back = changes.rollback(
                    dest, keys.signer("targets"), args.name, args.version, args.admin
                )
                print(f"{args.name} version {back.version} = version {args.version}")
                for file in back.left_out:
                    print(f"  left out {file}: retired (consent wins)")
            case "consent":
                print("\n".join(changes.consent_lines(dest, dt.date.today())))
        return 0
    except (PublishError, ConfigError) as e:
        print("\n".join(e.problems), file=sys.stderr)
        print("nothing was published", file=sys.stderr)
        return 2
    except (RepositoryError, KeyError_, LookupError, UnsignedMetadataError, CredentialError) as e:
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
