"""Which schemas the state under `state_dir` carries, and whether a release can read them.

For whoever switches versions (the update helper before a rollback, an operator): a release's
`state_schemas` ({state: [oldest, newest]}, kiosk/data/state-schemas.json) can read a state
file if its newest is at least the file's `readable_by` and its oldest at most the file's
schema. Reads only; opens the outbox read-only.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

from kiosk.stateschema import Stamp, json_stamp


def _json_file(path: Path) -> Stamp | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return json_stamp(data) if isinstance(data, dict) else None


def _outbox(path: Path) -> Stamp | None:
    if not path.is_file():
        return None
    from kiosk.outbox import read_stamp

    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        return read_stamp(db)
    except sqlite3.Error:
        return None
    finally:
        db.close()


def on_disk(state_dir: Path) -> dict[str, Stamp]:
    """Each kind of state present under `state_dir` with its most demanding stamp (the highest
    `readable_by`; several rotation files are one kind). Unreadable files are left out: their
    owners start them afresh anyway."""
    found: dict[str, list[Stamp]] = {}
    for state, stamp in (
        ("outbox", _outbox(state_dir / "outbox.sqlite3")),
        ("fleet", _json_file(state_dir / "fleet.json")),
        ("sets", _json_file(state_dir / "sets-schema.json")),
        *(("rotation", _json_file(p)) for p in sorted(state_dir.glob("rotation/*.json"))),
    ):
        if stamp is not None:
            found.setdefault(state, []).append(stamp)
    return {k: max(v, key=lambda s: (s.readable_by, s.schema)) for k, v in found.items()}


def unreadable_by(schemas: Mapping[str, Sequence[int]], stamps: Mapping[str, Stamp]) -> list[str]:
    """Why a release reading `schemas` ({state: [oldest, newest]}) cannot read `stamps`; empty
    when it can. A state the release does not name is read as schema 1 only."""
    problems = []
    for state, stamp in sorted(stamps.items()):
        oldest, newest = schemas.get(state, (1, 1))
        if stamp.readable_by > newest:
            problems.append(
                f"{state}: schema {stamp.schema} needs a reader of schema {stamp.readable_by} "
                f"or later; the release reads {oldest} to {newest}"
            )
        elif stamp.schema < oldest:
            problems.append(
                f"{state}: schema {stamp.schema} is older than the release reads ({oldest})"
            )
    return problems
