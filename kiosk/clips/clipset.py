"""The clip-set folder: audio files plus clipset.yaml, the unit a sync swaps atomically."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.errors import ClipSetError, ConfigError
from kiosk.schema import Builder, limits
from kiosk.yamlfile import load_yaml

MANIFEST = "clipset.yaml"
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3"})
_DAYPART = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def _check_file(name: str) -> str | None:
    if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
        return f'expected a file name inside the set folder, got "{name}"'
    if Path(name).suffix.lower() not in AUDIO_SUFFIXES:
        kinds = ", ".join(sorted(AUDIO_SUFFIXES))
        return f'unsupported audio type "{name}" (expected one of {kinds})'
    return None


def check_dayparts(parts: tuple[str, ...]) -> str | None:
    bad = [p for p in parts if not _DAYPART.match(p)]
    return f'expected "HH:MM-HH:MM" ranges, got {bad}' if bad else None


def _check_name(name: str) -> str | None:
    ok = re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name)
    return None if ok else f'expected letters, digits, ".", "_" or "-", got "{name}"'


@dataclass(frozen=True)
class Clip:
    """One clip's metadata, as written in clipset.yaml."""

    file: str = field(metadata=limits(check=_check_file))
    title: str
    speaker: str
    weight: float = field(default=1.0, metadata=limits(0.01, 100))
    not_before: dt.date | None = None
    expires: dt.date | None = None
    dayparts: tuple[str, ...] = field(default=(), metadata=limits(check=check_dayparts))


@dataclass(frozen=True)
class ClipSet:
    """A validated clip set; `folder` holds the audio files named by each clip."""

    name: str = field(metadata=limits(check=_check_name))
    clips: tuple[Clip, ...] = ()
    folder: Path = Path()

    def path_of(self, clip: Clip) -> Path:
        return self.folder / clip.file


@dataclass(frozen=True)
class _Manifest:
    name: str = field(metadata=limits(check=_check_name))
    clips: tuple[Clip, ...] = ()


def load_clipset(folder: Path) -> ClipSet:
    """Read `folder`/clipset.yaml. Raises ClipSetError naming file, line and key.

    Missing or unreadable audio files are not errors here: the player skips them one by one.
    """
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise ClipSetError([f"{manifest}: no clip set here (missing {MANIFEST})"])
    try:
        doc = load_yaml(manifest)
    except ConfigError as e:
        raise ClipSetError(e.problems) from e
    builder = Builder(doc)
    built = builder.build(_Manifest, doc.data)
    if built is not None:
        seen: set[str] = set()
        for i, clip in enumerate(built.clips):
            if clip.file in seen:
                builder.fail(("clips", i, "file"), f'"{clip.file}" is listed twice')
            seen.add(clip.file)
            if clip.not_before and clip.expires and clip.expires < clip.not_before:
                builder.fail(("clips", i, "expires"), "is before not_before")
    if builder.problems or built is None:
        raise ClipSetError(builder.problems or [f"{manifest}: invalid clip set"])
    return ClipSet(name=built.name, clips=built.clips, folder=folder)
