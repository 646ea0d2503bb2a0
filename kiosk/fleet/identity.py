"""`<state_dir>/fleet.json`: which hub this booth is enrolled with, its id and credential.

Written once by `kiosk enroll`, atomically and 0600 (the credential is a secret). Stamped
with its schema (kiosk.stateschema, "fleet"); a file a newer version wrote in a way this one
cannot read raises StateTooNew: the booth runs without its hub, and the file stays as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from kiosk import stateschema
from kiosk.durable import write_atomic
from kiosk.errors import ConfigError

FILE = "fleet.json"


@dataclass(frozen=True)
class Identity:
    hub: str
    booth_id: str
    credential: str

    def __repr__(self) -> str:  # never print the credential by accident
        return f"Identity(hub={self.hub!r}, booth_id={self.booth_id!r})"


def normalise(url: str) -> str:
    return url.rstrip("/")


def path_in(state_dir: Path) -> Path:
    return state_dir / FILE


def load(state_dir: Path) -> Identity | None:
    """The identity, or None if not enrolled. Raises ConfigError naming the file if bad, and
    StateTooNew if a newer version wrote it in a way this one cannot read."""
    path = path_in(state_dir)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise ConfigError([f"{path}: unreadable: {e}"]) from e
    if isinstance(data, dict):
        stateschema.check("fleet", path, stateschema.json_stamp(data))
    problems = [
        f"{path}: {key}: expected a non-empty string"
        for key in ("hub", "booth_id", "credential")
        if not isinstance(data, dict) or not isinstance(data.get(key), str) or not data[key]
    ]
    if problems:
        raise ConfigError(problems)
    return Identity(normalise(data["hub"]), data["booth_id"], data["credential"])


def save(state_dir: Path, identity: Identity) -> Path:
    path = path_in(state_dir)
    fields = {"hub": identity.hub, "booth_id": identity.booth_id, "credential": identity.credential}
    body = stateschema.stamped("fleet", fields)
    write_atomic(path, json.dumps(body, indent=1).encode() + b"\n", mode=0o600)
    return path
