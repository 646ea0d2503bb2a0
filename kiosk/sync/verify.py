"""Check bytes on disk against the signed metadata: nothing cached is trusted on its name.

A flipped bit on the SD card or a file half-written at a power cut keeps its name and often its
length, so clips are compared by sha256 (bench.sync_verify measures the cost per MB).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from kiosk.content.manifest import SetManifest


def file_sha256(path: Path) -> str:
    """The sha256 of a file, hex. Raises OSError."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def matches(path: Path, sha256: str, length: int | None = None) -> bool:
    """Whether `path` is a file of `length` bytes (if given) whose sha256 is `sha256`."""
    try:
        if length is not None and path.stat().st_size != length:
            return False
        return file_sha256(path) == sha256
    except OSError:
        return False


def bad_files(folder: Path, manifest: SetManifest) -> list[str]:
    """The files of a staged set folder that do not hold what the signed manifest says.

    Every clip is hashed; `clipset.yaml` must equal the one the manifest gives.
    """
    bad = [c.file for c in manifest.clips if not matches(folder / c.file, c.sha256)]
    try:
        if (folder / "clipset.yaml").read_text() != manifest.clipset_yaml():
            bad.append("clipset.yaml")
    except (OSError, UnicodeDecodeError):
        bad.append("clipset.yaml")
    return bad
