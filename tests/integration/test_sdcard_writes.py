"""SD-card care: a sync that finds nothing new writes nothing to the booth's state directory.

The figures (bytes per idle hour and per 100 lifts) come from `python -m bench.sdcard`.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.content import Publisher, booth_syncer
from tests.nginx import Nginx


def snapshot(folder: Path) -> dict[Path, tuple[int, int, int]]:
    """(inode, size, mtime) of every file and link: a rewrite changes the inode or mtime."""
    return {
        p: (s.st_ino, s.st_size, s.st_mtime_ns)
        for p in folder.rglob("*")
        if (s := os.lstat(p)) and not p.is_dir()
    }


def test_a_no_op_sync_rewrites_no_file(tmp_path: Path, publisher: Publisher, nginx: Nginx) -> None:
    publisher.publish_clips("lobby", {"a.wav": 0.5})
    state = tmp_path / "booth"
    syncer, store = booth_syncer(state, nginx.url, publisher.root_json, "lobby")
    store.activate(syncer.sync().folder)
    before = snapshot(state)
    assert any(p.name == "root.json" for p in before), before
    for _ in range(2):
        syncer.sync()
    assert snapshot(state) == before
