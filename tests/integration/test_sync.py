"""Publish with the real admin code, serve with Debian's nginx, sync with the booth's updater."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kiosk.audio.decode import decode
from kiosk.clips.clipset import load_clipset
from tests.content import Publisher, booth_syncer
from tests.nginx import Nginx


def test_a_booth_syncs_a_published_set_from_nginx(
    tmp_path: Path, publisher: Publisher, nginx: Nginx
) -> None:
    done = publisher.publish_clips("lobby", {"a.wav": 1.0, "b.flac": 1.0, "c.ogg": 1.0})
    assert (done.version, done.new_clips) == (1, 3)
    syncer, store = booth_syncer(tmp_path / "booth", nginx.url, publisher.root_json, "lobby")
    result = syncer.sync()
    store.activate(result.folder)
    clipset = load_clipset(store.sets / "current")
    assert clipset.name == "lobby" and [c.file for c in clipset.clips] == [
        "a.opus",
        "b.opus",
        "c.opus",
    ]
    samples = decode(store.sets / "current" / "a.opus", 48000, 10)
    assert 0.9 < len(samples) / 48000 < 1.1 and np.max(np.abs(samples)) > 0.05
    # The second sync finds nothing new: timestamp.json, and a probe for a newer root.
    before = len(nginx.requests_logged())
    again = syncer.sync()
    assert again.folder == result.folder and again.downloaded_bytes < 2000
    assert len(nginx.requests_logged()) - before <= 2


def test_one_new_clip_downloads_only_that_clip_and_metadata(
    tmp_path: Path, publisher: Publisher, nginx: Nginx
) -> None:
    clips = {f"c{i}.wav": 0.5 for i in range(20)}
    publisher.publish_clips("lobby", clips)
    syncer, store = booth_syncer(tmp_path / "booth", nginx.url, publisher.root_json, "lobby")
    store.activate(syncer.sync().folder)
    publisher.publish_clips("lobby", {**clips, "new.wav": 0.5})
    result = syncer.sync()
    store.activate(result.folder)
    assert result.version == 2 and len(load_clipset(store.sets / "current").clips) == 21
    new_clip = (store.sets / "current" / "new.opus").stat().st_size
    metadata = sum(
        (publisher.repo.metadata / n).stat().st_size
        for n in ("timestamp.json", "3.snapshot.json", "3.targets.json")
    )
    manifest = publisher.repo.targets().signed.targets["sets/lobby/clipset.json"].length
    assert result.downloaded_bytes <= new_clip + metadata + manifest + 100
