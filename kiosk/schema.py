"""Build frozen dataclasses from parsed YAML, collecting every problem with file:line: key.

Field constraints live in `dataclasses.field(metadata=...)`: `min`, `max` (inclusive) and
`check`, a function returning an error text or None; `key` spells a YAML key that is not a
valid Python name (e.g. `continue`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from kiosk.yamlfile import KeyPath, YamlDoc, dotted

T = TypeVar("T")


def limits(
    lo: float | None = None,
    hi: float | None = None,
    check: Callable[[Any], str | None] | None = None,
) -> dict[str, Any]:
    """Metadata for a constrained field."""
    return {"min": lo, "max": hi, "check": check}


def yaml_key(key: str) -> dict[str, Any]:
    """Metadata for a field whose YAML key is `key` (a Python keyword, say)."""
    return {"key": key}


class Builder:
    """Walks a YamlDoc against a dataclass type; `problems` collects every error."""

    def __init__(self, doc: YamlDoc) -> None:
        self.doc = doc
        self.problems: list[str] = []

    def fail(self, path: KeyPath, message: str) -> None:
        self.problems.append(f"{self.doc.where(path)}: {dotted(path)}: {message}")

    def build(self, cls: type[T], data: Any, path: KeyPath = ()) -> T | None:
        """An instance of dataclass `cls` from `data`, or None after recording problems."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.fail(path, f"expected a mapping, got {_show(data)}")
            return None
        hints = get_type_hints(cls)
        fields = {
            f.metadata.get("key", f.name): f
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        }
        for key in data:
            if key not in fields:
                near = difflib.get_close_matches(str(key), list(fields), n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                self.fail((*path, str(key)), f"unknown key{hint}")
        values: dict[str, Any] = {}
        ok = True
        for name, f in fields.items():
            sub = (*path, name)
            if name not in data:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    self.fail(sub, "required key is missing")
                    ok = False
                continue
            value = self.convert(hints[f.name], data[name], sub, dict(f.metadata))
            if value is _BAD:
                ok = False
            else:
                values[f.name] = value
        return cls(**values) if ok else None

    def convert(self, hint: Any, raw: Any, path: KeyPath, meta: dict[str, Any]) -> Any:
        """Convert one value, or record a problem and return _BAD."""
        lo, hi, check = meta.get("min"), meta.get("max"), meta.get("check")
        value = self._convert_type(hint, raw, path, _range(lo, hi))
        if value is _BAD:
            return _BAD
        if value is None:  # an optional key left empty: nothing to range-check
            return None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            self.fail(path, f"expected {_describe(hint)} {_range(lo, hi)}, got {_show(raw)}")
            return _BAD
        if check is not None:
            err = check(value)
            if err:
                self.fail(path, err)
                return _BAD
        return value

    def _convert_type(self, hint: Any, raw: Any, path: KeyPath, bounds: str = "") -> Any:
        origin = get_origin(hint)
        if origin in (types.UnionType, typing.Union):
            args = [a for a in get_args(hint) if a is not type(None)]
            if raw is None:
                return None
            return self._convert_type(args[0], raw, path, bounds)
        if dataclasses.is_dataclass(hint):
            built = self.build(hint, raw, path)  # type: ignore[arg-type]
            return _BAD if built is None else built
        if origin is Literal:
            choices = get_args(hint)
            if raw in choices:
                return raw
            self.fail(path, f"expected one of {', '.join(map(str, choices))}, got {_show(raw)}")
            return _BAD
        if origin in (list, tuple):
            (item,) = get_args(hint)[:1]
            if not isinstance(raw, list):
                self.fail(path, f"expected a list, got {_show(raw)}")
                return _BAD
            items = [self._convert_type(item, v, (*path, i)) for i, v in enumerate(raw)]
            return _BAD if any(v is _BAD for v in items) else origin(items)
        return self._scalar(hint, raw, path, bounds)

    def _scalar(self, hint: Any, raw: Any, path: KeyPath, bounds: str) -> Any:
        if hint is bool and isinstance(raw, bool):
            return raw
        if hint is int and isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if hint is float and isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
        if hint is str and isinstance(raw, str):
            return raw
        if hint is dt.date:
            if isinstance(raw, dt.date) and not isinstance(raw, dt.datetime):
                return raw
            if isinstance(raw, str):
                try:
                    return dt.date.fromisoformat(raw)
                except ValueError:
                    pass
        expected = f"{_describe(hint)} {bounds}".rstrip()
        self.fail(path, f"expected {expected}, got {_show(raw)}")
        return _BAD


class _Bad:
    def __repr__(self) -> str:
        return "<bad>"


_BAD: Any = _Bad()


def _describe(hint: Any) -> str:
    if get_origin(hint) in (types.UnionType, typing.Union):  # X | None: describe X
        return _describe(next(a for a in get_args(hint) if a is not type(None)))
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if hint is dt.date:
        return "a date (YYYY-MM-DD)"
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def _range(lo: float | None, hi: float | None) -> str:
    def fmt(x: float) -> str:
        return f"{x:g}"

    if lo is not None and hi is not None:
        return f"{fmt(lo)}-{fmt(hi)}" if lo >= 0 else f"from {fmt(lo)} to {fmt(hi)}"
    return f">= {fmt(lo)}" if lo is not None else f"<= {fmt(hi)}" if hi is not None else ""


def _show(raw: Any) -> str:
    if isinstance(raw, str):
        return f'"{raw}"'
    if raw is None:
        return "nothing"
    if isinstance(raw, dict):
        return "a mapping"
    if isinstance(raw, list):
        return "a list"
    return str(raw).lower() if isinstance(raw, bool) else str(raw)
