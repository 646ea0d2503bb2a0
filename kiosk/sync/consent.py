"""Honouring the consent register on the booth: a retired clip's bytes leave the disk.

Runs on the sync thread, only while the handset is on the hook. A retired clip goes from the
content cache, from any partial download, and from every set folder: a folder other than the
active one that holds it is removed whole (a later sync stages it again without the clip, and
`sets/previous` can never bring it back); the active folder loses the file, and the main loop
excludes it from the rotation until the next set version is activated.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from kiosk.durable import fsync_dir
from kiosk.sync.store import SetStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Purged:
    """What a purge removed: paths relative to the store's root, and the active set's files."""

    removed: tuple[str, ...]
    active_files: tuple[str, ...]  # file names in the active set folder, now gone
    clips: tuple[str, ...]  # the retired sha256s that had bytes here


def purge(
    store: SetStore, retired: Collection[str], quiet: Callable[[], None] = lambda: None
) -> Purged:
    """Delete every copy of the clips whose sha256 is in `retired`. Finding them only reads;
    `quiet()` is called (it blocks until the handset is on the hook) only if there is some."""
    if not retired:
        return Purged((), (), ())
    cached = [p for p in store.clips.iterdir() if p.name.split(".")[0] in retired]
    inodes = {p.stat().st_ino for p in cached}
    sizes = {p.stat().st_size for p in cached}
    hits: dict[Path, list[Path]] = {}
    for folder in store.sets.iterdir():
        if folder.is_dir() and not folder.is_symlink():
            found = [f for f in folder.iterdir() if _is_retired(f, inodes, sizes, retired)]
            if found:
                hits[folder] = found
    parts = [p for sha in retired if (p := store.partial / f"{sha}.part").exists()]
    if not (cached or hits or parts):
        return Purged((), (), ())
    quiet()
    active = store.active()
    removed: list[str] = []
    active_files: list[str] = []
    for folder, files in hits.items():
        if folder == active:
            for f in files:
                f.unlink()
                removed.append(str(f.relative_to(store.root)))
                active_files.append(f.name)
            fsync_dir(folder)
            continue
        trash = store.sets / f".consent-{folder.name}-{uuid.uuid4().hex[:8]}"
        os.rename(folder, trash)  # never half a folder under its final name
        fsync_dir(store.sets)
        shutil.rmtree(trash)
        removed.append(str(folder.relative_to(store.root)))
    for path in (*cached, *parts):
        path.unlink(missing_ok=True)
        removed.append(str(path.relative_to(store.root)))
    fsync_dir(store.clips)
    fsync_dir(store.partial)
    log.warning("consent: removed %d retired files: %s", len(removed), ", ".join(removed))
    clips = sorted({p.name.split(".")[0] for p in cached})
    return Purged(tuple(removed), tuple(active_files), tuple(clips))


def _is_retired(path: Path, inodes: set[int], sizes: set[int], retired: Collection[str]) -> bool:
    if not path.is_file() or path.name == "clipset.yaml":
        return False
    st = path.stat()
    if st.st_ino in inodes:
        return True
    if st.st_nlink > 1 or st.st_size not in sizes:
        return False
    # A copy (no hard links on this file system): hash only files of a retired clip's size.
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest() in retired
