"""The booth's set store: verified clips by hash, complete set folders, one atomic switch.

Layout under the state directory:

    cache/clips/<sha256>.<ext>     verified clip bytes, content-addressed
    cache/partial/<sha256>.part    an interrupted download, resumed with an HTTP Range
    sets/<name>-v<version>/        a complete, fsynced set folder (clipset.yaml + hard links)
    sets/<name>-v<version>-r<n>/   the same set version staged again (the first was corrupt)
    sets/current -> <folder>       the active set: `clips.path` points here
    sets/previous -> <folder>      the set before it, kept for rollback
    sets-schema.json               the layout's schema stamp (kiosk.stateschema, "sets")

A set folder appears under its final name only once it is complete (staged under a dot-name,
fsynced, renamed), and `current` changes with one rename of a symlink, so a power cut at any
moment leaves the old set or the new one, never half of either. Nothing here is trusted on
its name: the updater checks a folder's content (kiosk.sync.verify) before it reuses it. A
layout a newer version stamped in a way this one cannot read raises StateTooNew and is left
untouched (the booth then plays `sets/current` as it is, without syncing).
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import re
import shutil
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kiosk import stateschema
from kiosk.durable import fsync_dir, write_atomic

log = logging.getLogger(__name__)

_SHA = re.compile(r"[0-9a-f]{64}")
_EXT = re.compile(r"[a-z0-9]{1,8}")


@dataclass(frozen=True)
class StagedClip:
    """One clip of a set: its file name in the set folder and its cached bytes."""

    file: str
    sha256: str
    ext: str


def read_stamp(path: Path) -> stateschema.Stamp:
    """The set store's stamp in `path` (sets-schema.json); none or unreadable: version 1."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = None
    return stateschema.json_stamp(data if isinstance(data, dict) else {})


class SetStore:
    """Owns cache/ and sets/ under `root`. Not thread-safe: one caller at a time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.clips = root / "cache" / "clips"
        self.partial = root / "cache" / "partial"
        self.sets = root / "sets"
        # activate() runs on the main loop and collect() on the sync thread.
        self._lock = threading.Lock()
        schema_file = root / "sets-schema.json"
        found = read_stamp(schema_file)
        stateschema.check("sets", schema_file, found)
        for folder in (self.clips, self.partial, self.sets):
            folder.mkdir(parents=True, exist_ok=True)
        # No layout steps yet (version 1 is today's); a readable newer stamp is kept.
        if not schema_file.exists() or found.schema < stateschema.current("sets").schema:
            body = stateschema.stamped("sets", {})
            write_atomic(schema_file, json.dumps(body).encode() + b"\n")

    # -- the cache -----------------------------------------------------------------------
    def clip_path(self, sha256: str, ext: str) -> Path:
        if not _SHA.fullmatch(sha256) or not _EXT.fullmatch(ext):
            raise ValueError(f"bad clip name {sha256}.{ext}")
        return self.clips / f"{sha256}.{ext}"

    def partial_path(self, sha256: str) -> Path:
        if not _SHA.fullmatch(sha256):
            raise ValueError(f"bad clip hash {sha256}")
        return self.partial / f"{sha256}.part"

    def commit_clip(self, part: Path, sha256: str, ext: str) -> Path:
        """Move a verified download into the cache (fsynced, then renamed)."""
        final = self.clip_path(sha256, ext)
        with part.open("rb+") as f:
            os.fsync(f.fileno())
        os.replace(part, final)
        fsync_dir(self.clips)
        return final

    # -- set folders ---------------------------------------------------------------------
    def folder_name(self, name: str, version: int) -> str:
        return f"{name}-v{version}"

    @staticmethod
    def version_of(folder: Path) -> int | None:
        """The version in a set folder's name (`folder_name`), if it has one."""
        match = re.search(r"-v(\d+)(?:-r\d+)?$", folder.name)
        return int(match.group(1)) if match else None

    def _folders(self, name: str, version: int) -> list[Path]:
        """This set version's folder names, in staging order: name-vN, name-vN-r2, ..."""
        base = self.folder_name(name, version)
        pattern = re.compile(re.escape(base) + r"(?:-r([2-9]|[1-9]\d+))?")
        found = []
        for entry in self.sets.glob(f"{glob.escape(base)}*"):
            match = pattern.fullmatch(entry.name)
            if match:
                found.append((int(match.group(1) or 1), entry))
        return [entry for _, entry in sorted(found)]

    def staged(self, name: str, version: int) -> Path | None:
        """The folder last staged complete for this set version (its content is not checked)."""
        complete = [f for f in self._folders(name, version) if (f / "clipset.yaml").is_file()]
        return complete[-1] if complete else None

    def _free_folder(self, name: str, version: int) -> Path:
        """Where to stage: a name no complete folder holds (an incomplete leftover is replaced)."""
        base = self.sets / self.folder_name(name, version)
        taken = {f.name for f in self._folders(name, version) if (f / "clipset.yaml").exists()}
        taken |= {f.name for f in (self.active(), self.previous()) if f is not None}
        n = 1
        while (final := base.with_name(base.name if n == 1 else f"{base.name}-r{n}")).name in taken:
            n += 1
        return final

    def stage(self, name: str, version: int, clips: Iterable[StagedClip], manifest: str) -> Path:
        """Build a new set folder from cached clips; returns it once complete and durable.

        A version staged before gets a new folder (`-r2`, ...): the caller found the old one
        corrupt. Raises OSError (disk full, missing cache file) after removing the partial folder.
        """
        final = self._free_folder(name, version)
        tmp = self.sets / f".staging-{final.name}-{uuid.uuid4().hex[:8]}"
        try:
            tmp.mkdir()
            for clip in clips:
                src = self.clip_path(clip.sha256, clip.ext)
                try:
                    os.link(src, tmp / clip.file)
                except OSError:
                    shutil.copyfile(src, tmp / clip.file)
                    with (tmp / clip.file).open("rb+") as f:
                        os.fsync(f.fileno())
            write_atomic(tmp / "clipset.yaml", manifest.encode())
            fsync_dir(tmp)
            if final.exists():  # an incomplete leftover under the final name
                shutil.rmtree(final)
            os.rename(tmp, final)
            fsync_dir(self.sets)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def discard(self, path: Path) -> list[Path]:
        """Remove a corrupt file and every other link to it (cache, set folders) at once.

        A clip in the cache and in set folders is one inode: its bad bytes must not play from
        any of them. Returns what was removed.
        """
        try:
            bad = path.stat()
        except OSError:
            return []
        removed = []
        places = [
            self.clips,
            *(f for f in self.sets.iterdir() if f.is_dir() and not f.is_symlink()),
        ]
        for folder in places:
            for entry in folder.iterdir():
                with contextlib.suppress(OSError):
                    st = entry.lstat()
                    if (st.st_ino, st.st_dev) == (bad.st_ino, bad.st_dev):
                        entry.unlink()
                        removed.append(entry)
        if path.exists():  # not in the store's folders (a copy elsewhere)
            path.unlink()
            removed.append(path)
        for folder in {p.parent for p in removed}:
            fsync_dir(folder)
        log.warning("discarded corrupt %s (%d links)", path, len(removed))
        return removed

    # -- activation ----------------------------------------------------------------------
    def active(self) -> Path | None:
        return self._target("current")

    def previous(self) -> Path | None:
        return self._target("previous")

    def activate(self, folder: Path) -> None:
        """Point `current` at `folder` (one rename), keeping the old one as `previous`."""
        if (
            folder.parent != self.sets
            or folder.is_symlink()
            or folder.name.startswith(".")
            or not (folder / "clipset.yaml").is_file()
        ):
            raise ValueError(f"{folder} is not a complete set folder in {self.sets}")
        with self._lock:
            self._activate(folder)

    def _activate(self, folder: Path) -> None:
        old = self.active()
        if old == folder:
            return
        if old is not None:
            self._link("previous", old)
        self._link("current", folder)
        log.info("active set now %s (previous %s)", folder.name, old.name if old else "none")

    def rollback(self) -> Path | None:
        """Make `previous` current again; returns the folder now active."""
        prev = self.previous()
        if prev is not None:
            self.activate(prev)
        return self.active()

    def collect(self, keep: Iterable[Path] = ()) -> list[str]:
        """Delete staging leftovers, set folders other than current, previous and `keep`, and
        cached clips no kept folder uses. Heavy disk work: only while the handset is on the hook.
        """
        with self._lock:
            return self._collect(keep)

    def _collect(self, keep: Iterable[Path]) -> list[str]:
        kept = {p for p in (self.active(), self.previous(), *keep) if p is not None}
        removed: list[str] = []
        doomed: list[Path] = []
        for entry in self.sets.iterdir():
            if entry.is_symlink() and entry.name.startswith("."):
                entry.unlink()  # a temp link left by a kill inside activate()
                removed.append(entry.name)
                continue
            if entry.is_symlink() or entry in kept or not entry.is_dir():
                continue
            if not entry.name.startswith("."):
                # rmtree is not atomic: cut short under the final name, a folder could keep its
                # clipset.yaml and lose clips, and staged() would take it for complete.
                trash = self.sets / f".collect-{entry.name}-{uuid.uuid4().hex[:8]}"
                os.rename(entry, trash)
                doomed.append(trash)
            else:
                doomed.append(entry)
            removed.append(entry.name)
        if doomed:
            fsync_dir(self.sets)  # the renames are durable before any file goes
        for folder in doomed:
            shutil.rmtree(folder, ignore_errors=True)
        used = {os.stat(f).st_ino for folder in kept for f in folder.iterdir() if f.is_file()}
        for clip in self.clips.iterdir():
            if clip.stat().st_ino not in used:
                clip.unlink()
                removed.append(f"cache/clips/{clip.name}")
        fsync_dir(self.sets)
        return removed

    def _target(self, link: str) -> Path | None:
        path = self.sets / link
        try:
            target = os.readlink(path)
        except OSError:
            return None
        folder = self.sets / target
        return folder if (folder / "clipset.yaml").is_file() else None

    def _link(self, link: str, folder: Path) -> None:
        tmp = self.sets / f".{link}.{uuid.uuid4().hex[:8]}"
        os.symlink(folder.name, tmp)
        os.replace(tmp, self.sets / link)
        fsync_dir(self.sets)
