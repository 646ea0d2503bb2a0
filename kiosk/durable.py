"""Crash-safe file writes for an SD card that loses power without warning."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a temp file beside `path`, fsync it, rename it over `path`, fsync the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    write_synced(tmp, data, mode)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_synced(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write `path` with exactly `mode` (whatever the umask) and fsync it; the folder is the
    caller's to fsync."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # a leftover file keeps its old mode otherwise
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
