"""Self-test results: one Item per check, printed for a person or as JSON for the installer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum


class Result(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class Item:
    """One checked thing: `name` is stable (the installer matches on it); `fix` says what to do."""

    name: str
    result: Result
    detail: str
    fix: str = ""


def passed(name: str, detail: str) -> Item:
    return Item(name, Result.PASS, detail)


def failed(name: str, detail: str, fix: str) -> Item:
    return Item(name, Result.FAIL, detail, fix)


def skipped(name: str, detail: str) -> Item:
    return Item(name, Result.SKIP, detail)


def as_text(item: Item) -> str:
    """`PASS  hook: detail`, plus an indented `fix:` line for a FAIL."""
    line = f"{item.result.value}  {item.name}: {item.detail}"
    return f"{line}\n      fix: {item.fix}" if item.fix else line


def as_json(items: Sequence[Item]) -> str:
    """One JSON document: a list of {name, result, detail, fix}."""
    return json.dumps([asdict(item) for item in items], indent=1)


def exit_code(items: Sequence[Item]) -> int:
    """1 if any item failed, else 0."""
    return 1 if any(item.result is Result.FAIL for item in items) else 0
