"""`kiosk-admin`: keys and clip-set publishing for the signed content repository."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from kiosk.admin.local import current_manifest, publish
from kiosk.admin.publish import Loudness, PublishError
from kiosk.content.keys import KeyError_, KeyStore
from kiosk.content.manifest import SetManifest, set_target
from kiosk.content.repository import Repository, RepositoryError
from kiosk.errors import ConfigError

CONFIG_HOME = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "kiosk-admin"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk-admin", description=__doc__)
    parser.add_argument("--repo", type=Path, required=True, help="the repository folder")
    parser.add_argument(
        "--keys", type=Path, default=CONFIG_HOME / "keys", help="root and targets keys"
    )
    parser.add_argument(
        "--online-keys",
        type=Path,
        default=CONFIG_HOME / "online",
        help="snapshot and timestamp keys (the hub's, once it runs)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create the keys and an empty repository")
    pub = sub.add_parser("publish", help="publish a clip-set folder as the next set version")
    pub.add_argument("folder", type=Path)
    pub.add_argument("--set", dest="set_name", required=True)
    pub.add_argument("--lufs", type=float, default=-20.0, help="integrated loudness target")
    pub.add_argument("--true-peak", type=float, default=-1.0, help="true-peak ceiling, dBTP")
    pub.add_argument("--max-seconds", type=float, default=600.0)
    sub.add_parser("sets", help="list the published sets")
    show = sub.add_parser("show", help="show a set's clips")
    show.add_argument("name")
    retire = sub.add_parser("retire", help="publish a set version without one clip")
    retire.add_argument("name")
    retire.add_argument("clip")
    args = parser.parse_args(argv)
    repo = Repository(args.repo)
    keys, online = KeyStore(args.keys), KeyStore(args.online_keys)
    try:
        match args.command:
            case "init":
                return _init(repo, keys, online)
            case "publish":
                loudness = Loudness(args.lufs, args.true_peak, args.max_seconds)
                done = publish(
                    args.folder,
                    args.set_name,
                    repo,
                    keys,
                    online,
                    loudness,
                    dt.date.today(),
                    progress=lambda line: print(line, file=sys.stderr),
                )
                for warning in done.warnings:
                    print(f"warning: {warning}", file=sys.stderr)
                print(
                    f"published {done.name} version {done.version}: {done.clips} clips, "
                    f"{done.new_clips} new ({done.new_bytes / 1024:.0f} KiB)"
                )
                return 0
            case "sets":
                for path in sorted(repo.targets().signed.targets):
                    if path.startswith("sets/"):
                        name = path.split("/")[1]
                        manifest = current_manifest(repo, name)
                        assert manifest is not None
                        print(f"{name}\tversion {manifest.version}\t{len(manifest.clips)} clips")
                return 0
            case "show":
                return _show(repo, args.name)
            case "retire":
                return _retire(repo, keys, online, args.name, args.clip)
    except (PublishError, ConfigError) as e:
        print("\n".join(e.problems), file=sys.stderr)
        print("nothing was published", file=sys.stderr)
        return 2
    except (RepositoryError, KeyError_) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(
            f"error: {e.filename}: no such file (is --repo right? run init first)", file=sys.stderr
        )
        return 2
    return 64


def _init(repo: Repository, keys: KeyStore, online: KeyStore) -> int:
    for store, role in (
        (keys, "root"),
        (keys, "targets"),
        (online, "snapshot"),
        (online, "timestamp"),
    ):
        if not store.has(role):
            store.generate(role)
    repo.create(
        keys.signer("root"),
        keys.signer("targets"),
        {r: online.signer(r) for r in ("snapshot", "timestamp")},
    )
    print(f"repository created in {repo.folder}")
    print(f"keep {keys.folder}/root.pem offline; booths trust {repo.metadata}/1.root.json")
    return 0


def _show(repo: Repository, name: str) -> int:
    manifest = current_manifest(repo, name)
    if manifest is None:
        print(f"error: no set {name!r}", file=sys.stderr)
        return 2
    print(f"{manifest.name} version {manifest.version}, published {manifest.published}")
    for clip in manifest.clips:
        expires = f"  expires {clip.expires}" if clip.expires else ""
        print(f"  {clip.file}\t{clip.title!r} - {clip.speaker}{expires}")
    return 0


def _retire(repo: Repository, keys: KeyStore, online: KeyStore, name: str, clip: str) -> int:
    manifest = current_manifest(repo, name)
    if manifest is None:
        print(f"error: no set {name!r}", file=sys.stderr)
        return 2
    kept = tuple(c for c in manifest.clips if c.file != clip and Path(c.file).stem != clip)
    if len(kept) == len(manifest.clips):
        print(f"error: set {name!r} has no clip {clip!r}", file=sys.stderr)
        return 2
    targets = repo.new_targets()
    new = SetManifest(
        name, manifest.version + 1, published=dt.datetime.now(dt.UTC).isoformat(), clips=kept
    )
    info = repo.add_target_bytes(set_target(name), new.to_json())
    targets.signed.targets[info.path] = info
    targets.sign(keys.signer("targets"))
    repo.publish_targets(targets, {r: online.signer(r) for r in ("snapshot", "timestamp")})
    print(f"retired {clip} from {name}: version {new.version}, {len(kept)} clips")
    return 0


if __name__ == "__main__":
    sys.exit(main())
