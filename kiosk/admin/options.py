"""`kiosk-admin`'s common options: where to publish, the token, the keys and the admin's name.

They are accepted before or after the subcommand. Each comes from, in order: the command line,
the environment (KIOSK_HUB_URL, KIOSK_HUB_TOKEN, KIOSK_ADMIN_NAME), the config file
(KIOSK_ADMIN_CONFIG, else ~/.config/kiosk-admin/config.yaml), then the defaults:

    hub_url: https://hub.example.org     # or  repo: /srv/kiosk-repo
    token: ...                           # the hub token (keep the file 0600)
    admin: ana                           # your name in the register and the history
    keys: ~/.config/kiosk-admin/keys
    online_keys: ~/.config/kiosk-admin/online
"""

from __future__ import annotations

import argparse
import getpass
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from kiosk.errors import ConfigError

CONFIG_KEYS = ("hub_url", "repo", "token", "admin", "keys", "online_keys")


def config_home(env: Mapping[str, str]) -> Path:
    return Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "kiosk-admin"


def add_common(parser: argparse.ArgumentParser) -> None:
    """The common options on `parser` and, recursively, on every subcommand's parser."""
    s = argparse.SUPPRESS  # unset here: `resolve` fills in env, config file and defaults
    parser.add_argument("--repo", type=Path, default=s, help="a repository folder to write")
    parser.add_argument(
        "--hub", default=s, help="the hub's URL, e.g. http://127.0.0.1:8765 (KIOSK_HUB_URL)"
    )
    parser.add_argument(
        "--token-file",
        type=Path,
        default=s,
        help="a file holding the hub's admin token, - for stdin (or KIOSK_HUB_TOKEN)",
    )
    parser.add_argument("--token", default=s, help=argparse.SUPPRESS)  # old: shows it in ps
    parser.add_argument(
        "--insecure", action="store_true", default=s, help="allow a plain http:// hub off loopback"
    )
    parser.add_argument(
        "--as",
        dest="admin",
        default=s,
        help="your name in the consent register and set history (KIOSK_ADMIN_NAME)",
    )
    parser.add_argument("--keys", type=Path, default=s, help="the targets key's folder")
    parser.add_argument(
        "--online-keys",
        type=Path,
        default=s,
        help="snapshot and timestamp keys (they move to the hub's data folder)",
    )
    parser.add_argument(
        "--config", type=Path, default=s, help="the config file (KIOSK_ADMIN_CONFIG)"
    )
    parser.add_argument(
        "--root-keys",
        type=Path,
        default=s,
        help="the root keys, kept offline (default: offline-root/ beside --keys)",
    )
    parser.add_argument(
        "--passphrase-file", type=Path, default=s, help="targets key (or KIOSK_ADMIN_PASSPHRASE)"
    )
    parser.add_argument(
        "--root-passphrase-file",
        type=Path,
        default=s,
        help="root keys (or KIOSK_ADMIN_ROOT_PASSPHRASE)",
    )
    parser.add_argument(
        "--token-pin-file",
        type=Path,
        default=s,
        help="hardware token's PIN (or KIOSK_ADMIN_TOKEN_PIN)",
    )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                add_common(child)


def resolve(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> None:
    """Fill in the common options on `args`; raises ConfigError naming the file or option."""
    home = config_home(env)
    path = getattr(args, "config", None) or Path(
        env.get("KIOSK_ADMIN_CONFIG") or home / "config.yaml"
    )
    conf = _read_config(path, explicit=hasattr(args, "config") or "KIOSK_ADMIN_CONFIG" in env)
    given = {k: getattr(args, k) for k in ("repo", "hub") if hasattr(args, k)}
    if len(given) == 2:
        raise ConfigError(["--repo and --hub: give one destination, not both"])
    if not given:
        if env.get("KIOSK_HUB_URL"):
            given = {"hub": env["KIOSK_HUB_URL"]}
        elif conf.get("hub_url"):
            given = {"hub": conf["hub_url"]}
        elif conf.get("repo"):
            given = {"repo": Path(conf["repo"]).expanduser()}
    args.repo = given.get("repo")
    args.hub = given.get("hub")
    args.token_flag = getattr(args, "token", None)  # on the command line: warned about
    args.token = _pick(args, "token", env.get("KIOSK_HUB_TOKEN"), conf.get("token"), "")
    args.token_file = getattr(args, "token_file", None)
    args.insecure = getattr(args, "insecure", False)
    name = env.get("KIOSK_ADMIN_NAME") or conf.get("admin")
    args.admin = _pick(args, "admin", name, None, "") or getpass.getuser()
    for key in ("root_keys", "passphrase_file", "root_passphrase_file", "token_pin_file"):
        setattr(args, key, getattr(args, key, None))
    for key, default in (("keys", home / "keys"), ("online_keys", home / "online")):
        from_conf = Path(conf[key]).expanduser() if conf.get(key) else None
        setattr(args, key, _pick(args, key, None, from_conf, default))


def _pick(args: argparse.Namespace, key: str, env: Any, conf: Any, default: Any) -> Any:
    if hasattr(args, key):
        return getattr(args, key)
    return env or conf or default


def _read_config(path: Path, explicit: bool) -> dict[str, str]:
    try:
        text = path.read_text()
    except FileNotFoundError as e:
        if explicit:
            raise ConfigError([f"{path}: no such config file"]) from e
        return {}
    except OSError as e:
        raise ConfigError([f"{path}: cannot read: {e.strerror}"]) from e
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError([f"{path}: not YAML: {e}"]) from e
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected keys {', '.join(CONFIG_KEYS)}"])
    problems = [
        f"{path}: unknown key {key!r} (known: {', '.join(CONFIG_KEYS)})"
        for key in data
        if key not in CONFIG_KEYS
    ]
    problems += [
        f"{path}: {key}: expected text"
        for key in CONFIG_KEYS
        if key in data and not isinstance(data[key], str)
    ]
    if problems:
        raise ConfigError(problems)
    return {str(k): str(v) for k, v in data.items()}
