"""Schema versions of the booth's state under `state_dir` (docs/state-and-migrations.md).

Every state file carries two numbers: `schema`, the version that wrote it, and `readable_by`,
the oldest code schema that can still read it (a change that only adds keys, tables or columns
keeps `readable_by` where it was, so a rolled-back booth reads what a newer one wrote). A file
with no version is today's: version 1. This code reads a file if its own newest schema is at
least the file's `readable_by` and the file's `schema` is at least the oldest it migrates from;
otherwise the file is refused (`StateTooNew`, `StateTooOld`), left as it is, and its owner
degrades as documented (never wiped, never a crash).

`SCHEMAS` is the one place the versions live; `kiosk/data/state-schemas.json` ships the same
ranges (`[oldest, newest]` per state) for the release manifest's `state_schemas`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from kiosk.errors import KioskError

UNVERSIONED = 1  # a file written before schema versions existed


@dataclass(frozen=True)
class Schema:
    """One kind of state: the schemas this code migrates from (`oldest`) and writes (`newest`),
    and the oldest code schema that reads what it writes (`readable_by`)."""

    oldest: int
    newest: int
    readable_by: int


SCHEMAS: dict[str, Schema] = {
    "outbox": Schema(1, 1, 1),  # outbox.sqlite3: PRAGMA user_version, table schema_info
    "rotation": Schema(1, 1, 1),  # rotation/<set>.json: keys "schema", "readable_by"
    "fleet": Schema(1, 1, 1),  # fleet.json: keys "schema", "readable_by"
    "sets": Schema(1, 1, 1),  # the set store (cache/, sets/): sets/schema.json
}


class StateSchemaError(KioskError, ValueError):
    """A state file this code cannot read; it is left untouched."""

    def __init__(self, state: str, path: Path, found: int, readable_by: int) -> None:
        self.state = state
        self.path = path
        self.found = found
        self.readable_by = readable_by
        schema = SCHEMAS[state]
        super().__init__(
            f"{path}: {state} state schema {found} (readable by schema {readable_by} and "
            f"later); this version reads {state} schemas {schema.oldest} to {schema.newest}: "
            "left untouched"
        )


class StateTooNew(StateSchemaError):
    """Written by a newer version in a way this one cannot read (a rollback past a change)."""


class StateTooOld(StateSchemaError):
    """Older than the oldest schema this version migrates from."""


@dataclass(frozen=True)
class Stamp:
    """The schema numbers a state file carries."""

    schema: int
    readable_by: int


def check(state: str, path: Path, found: Stamp) -> None:
    """Raise if this code cannot read a `state` file stamped `found`."""
    schema = SCHEMAS[state]
    if found.readable_by > schema.newest:
        raise StateTooNew(state, path, found.schema, found.readable_by)
    if found.schema < schema.oldest:
        raise StateTooOld(state, path, found.schema, found.readable_by)


def current(state: str) -> Stamp:
    """What this code writes into a `state` file."""
    schema = SCHEMAS[state]
    return Stamp(schema.newest, schema.readable_by)


def _positive_int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    return None


def json_stamp(data: dict[str, Any]) -> Stamp:
    """A JSON state file's stamp: keys `schema` and `readable_by` (absent: version 1; a bad
    `readable_by` counts as the `schema` itself, the cautious reading)."""
    schema = _positive_int(data.get("schema")) or UNVERSIONED
    return Stamp(schema, _positive_int(data.get("readable_by")) or schema)


def stamped(state: str, body: dict[str, Any]) -> dict[str, Any]:
    """`body` with this code's `schema` and `readable_by` for a `state` JSON file."""
    stamp = current(state)
    return {"schema": stamp.schema, "readable_by": stamp.readable_by, **body}


def shipped(text: str | None = None) -> dict[str, list[int]]:
    """`kiosk/data/state-schemas.json`: {state: [oldest, newest]} (or `text` if given)."""
    if text is None:
        text = resources.files("kiosk").joinpath("data/state-schemas.json").read_text()
    data = json.loads(text)
    return {str(k): [int(v[0]), int(v[1])] for k, v in data.items()}


def as_shipped() -> dict[str, list[int]]:
    """What `kiosk/data/state-schemas.json` must hold for this code."""
    return {name: [s.oldest, s.newest] for name, s in sorted(SCHEMAS.items())}
