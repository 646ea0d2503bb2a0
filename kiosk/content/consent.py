"""`consent.json`: the consent register, a target of the signed repository (no I/O here).

Signed with the targets key like a set manifest, so booths trust it as much as a set: a clip
whose target the register retires is neither staged nor kept in a booth's cache, whatever a
manifest says. Each retirement records the clip's source sha256 (the bytes the admin published)
and the repository's settings-salted source key, so `publish` can refuse the same file again.

    {"format": 1,
     "retired": [{"source_sha256", "source_key", "targets", "file", "title", "speaker",
                  "reason", "by", "at", "sets"}],
     "reinstated": [{"source_sha256", "source_key", "file", "title", "speaker", "reason",
                     "by", "at", "retired_reason"}]}
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

from kiosk.errors import ConfigError

CONSENT = "consent.json"
FORMAT = 1
_TARGET = re.compile(r"clips/([0-9a-f]{64})\.[a-z0-9]{1,8}")
T = TypeVar("T", "Retirement", "Reinstatement")


@dataclass(frozen=True)
class Retirement:
    """One clip whose consent ended: it plays nowhere and no booth keeps its bytes."""

    source_sha256: str  # sha256 of the source file; "" for clips published before it was kept
    source_key: str  # the target's custom.source_sha256 (loudness settings + source bytes)
    targets: tuple[str, ...]  # clips/<sha256>.<ext>
    file: str
    title: str
    speaker: str
    reason: str
    by: str
    at: str  # ISO 8601 UTC
    sets: tuple[str, ...] = ()  # the sets it was retired from

    def target_sha256s(self) -> set[str]:
        return {m.group(1) for t in self.targets if (m := _TARGET.fullmatch(t))}


@dataclass(frozen=True)
class Reinstatement:
    """A retirement undone by `publish --reinstate FILE --reason TEXT`; kept for the record."""

    source_sha256: str
    source_key: str
    file: str
    title: str
    speaker: str
    reason: str
    by: str
    at: str
    retired_reason: str = ""


@dataclass(frozen=True)
class ConsentRegister:
    retired: tuple[Retirement, ...] = ()
    reinstated: tuple[Reinstatement, ...] = ()
    format: int = FORMAT

    def retired_sha256s(self) -> set[str]:
        """The target hashes (clips/<sha256>.<ext>) no booth may play or keep."""
        return {sha for r in self.retired for sha in r.target_sha256s()}

    def find_source(self, source_sha256: str, source_key: str) -> Retirement | None:
        """The retirement of this source file (by its own hash or the repository's key)."""
        for r in self.retired:
            if (r.source_sha256 and r.source_sha256 == source_sha256) or (
                r.source_key and r.source_key == source_key
            ):
                return r
        return None

    def find_person(self, title: str, speaker: str) -> Retirement | None:
        """A retirement with this title and speaker: a re-trimmed copy has a new hash."""
        wanted = (title.casefold(), speaker.casefold())
        return next(
            (r for r in self.retired if (r.title.casefold(), r.speaker.casefold()) == wanted), None
        )

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()


def parse_register(data: bytes, file: str = CONSENT) -> ConsentRegister:
    """Validate a register; raises ConfigError naming the file and key of every problem."""
    problems: list[str] = []
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ConfigError([f"{file}: not JSON: {e}"]) from e
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ConfigError([f"{file}: expected an object with format {FORMAT}"])
    retired = tuple(_entries(doc, "retired", Retirement, file, problems))
    reinstated = tuple(_entries(doc, "reinstated", Reinstatement, file, problems))
    for i, r in enumerate(retired):
        for t in r.targets:
            if not _TARGET.fullmatch(t):
                problems.append(f'{file}: retired[{i}].targets: "{t}" is not clips/<sha256>.<ext>')
    if problems:
        raise ConfigError(problems)
    return ConsentRegister(retired, reinstated)


def _entries(
    doc: dict[str, Any], key: str, cls: type[T], file: str, problems: list[str]
) -> list[T]:
    items = doc.get(key, [])
    if not isinstance(items, list):
        problems.append(f"{file}: {key}: expected a list")
        return []
    out: list[T] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(f"{file}: {key}[{i}]: expected an object")
            continue
        values: dict[str, Any] = {}
        bad = False
        for f in fields(cls):
            value = item.get(f.name, [] if f.name in ("targets", "sets") else "")
            if f.name in ("targets", "sets"):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    problems.append(f"{file}: {key}[{i}].{f.name}: expected a list of strings")
                    bad = True
                    continue
                value = tuple(value)
            elif not isinstance(value, str):
                problems.append(f"{file}: {key}[{i}].{f.name}: expected text")
                bad = True
                continue
            values[f.name] = value
        unknown = sorted(set(item) - {f.name for f in fields(cls)})
        if unknown:
            problems.append(f"{file}: {key}[{i}]: unknown keys {unknown}")
            bad = True
        if not bad:
            out.append(cls(**values))
    return out
