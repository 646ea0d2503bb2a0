"""The active clip set, its rotation, and the background decoding of the next sound.

The main thread draws from the rotation; one worker thread decodes and posts the result
(Prepared or ClipUnplayable), so a slow SD card or a huge file never delays the main loop.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import random
import threading
from collections.abc import Callable
from pathlib import Path

from kiosk.audio.decode import decode
from kiosk.clips.clipset import Clip, ClipSet, load_clipset
from kiosk.clips.rotation import Rotation, RotationStore
from kiosk.clips.schedule import is_eligible
from kiosk.errors import ClipSetError, DecodeError
from kiosk.events import ClipUnplayable, Prepared, Sound

log = logging.getLogger(__name__)


class Library:
    """Owned by the main thread, except the jobs it hands to its one worker thread."""

    def __init__(
        self,
        clips_path: Path,
        state_dir: Path,
        rate: int,
        max_seconds: float,
        no_stories: Sound,
        post: Callable[[object], None],
        rng: random.Random | None = None,
    ) -> None:
        self.clips_path = clips_path
        self.state_dir = state_dir
        self.rate = rate
        self.max_seconds = max_seconds
        self.no_stories = no_stories
        self._post = post
        self._rng = rng or random.Random()
        self.clipset = ClipSet(name="")
        self.rotation = Rotation(rng=self._rng)
        self._store: RotationStore | None = None
        self._bad: set[str] = set()
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._work, name="decoder", daemon=True)

    def start(self) -> list[str]:
        """Load the set and start the decoder; returns problems to report (never raises)."""
        problems = self.load()
        self._worker.start()
        return problems

    def load(self) -> list[str]:
        """(Re)load the clip set at clips_path; a bad set leaves an empty one and its errors."""
        self._bad.clear()
        try:
            self.clipset = load_clipset(self.clips_path)
        except ClipSetError as e:
            self.clipset = ClipSet(name="")
            return e.problems
        self._store = RotationStore(self.state_dir / "rotation" / f"{self.clipset.name}.json")
        self.rotation = self._store.load(self._rng)
        log.info("clip set %r: %d clips", self.clipset.name, len(self.clipset.clips))
        return []

    def prepare_next(self, wall: dt.datetime) -> None:
        """Pick the next eligible clip and queue it for decoding; no clip → the prompt."""
        by_file = {c.file: c for c in self.clipset.clips}
        pick = self.rotation.next(
            [c.file for c in self.clipset.clips],
            weight=lambda f: by_file[f].weight,
            eligible=lambda f: f not in self._bad and is_eligible(by_file[f], wall),
        )
        if pick is None:
            self._post(Prepared(self.no_stories))
        else:
            clipset, clip = self.clipset, by_file[pick]
            self._jobs.put(lambda: self._decode(clipset, clip))

    def prepare_newest(self, wall: dt.datetime) -> None:
        """Decode the set's newest eligible clip (the latest `not_before`, then the last listed)
        and post it as Prepared(asked=True); nothing eligible: the no-stories prompt."""
        clips = [
            (c.not_before or dt.date.min, i, c)
            for i, c in enumerate(self.clipset.clips)
            if c.file not in self._bad and is_eligible(c, wall)
        ]
        if not clips:
            self._post(Prepared(self.no_stories, asked=True))
            return
        clipset, clip = self.clipset, max(clips, key=lambda x: (x[0], x[1]))[2]
        self._jobs.put(lambda: self._decode(clipset, clip, asked=True))

    def started(self, file: str) -> None:
        """A clip from this set started playing (for the saved rotation)."""
        self.rotation.played(file)

    def exclude(self, file: str) -> None:
        """Skip a clip that failed to decode until the set is reloaded."""
        self._bad.add(file)

    def save(self) -> None:
        """Persist the rotation on the worker: its fsyncs never stall the main loop.

        Called on the hook, so the disk work never competes with someone listening.
        """
        store, state = self._store, self.rotation.to_json()
        if store is None:
            return

        def write() -> None:
            try:
                store.save_json(state)
            except OSError as e:
                log.error("cannot save rotation to %s: %s", store.path, e)

        self._jobs.put(write)

    def stop(self) -> None:
        if self._worker.is_alive():
            self._jobs.put(None)
            self._worker.join(timeout=5)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()

    def _decode(self, clipset: ClipSet, clip: Clip, asked: bool = False) -> None:
        path = clipset.path_of(clip)
        try:
            samples = decode(path, self.rate, self.max_seconds)
        except DecodeError as e:
            self._post(ClipUnplayable(clip.file, f"{path}: {e.reason}"))
            return
        except Exception as e:  # never let one bad file kill the worker
            log.exception("decoding %s", path)
            self._post(ClipUnplayable(clip.file, f"{path}: cannot decode: {e}"))
            return
        sound = Sound("clip", samples, len(samples) / self.rate, clip, clipset.name)
        self._post(Prepared(sound, asked))
