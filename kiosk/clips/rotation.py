"""Weighted shuffle that plays every eligible clip before any repeats, and never one twice running.

A cycle is every clip once in random order, then the extra plays that weights ask for (a weight
of 2.5 is one or two extra plays, 50/50), interleaved so no clip plays twice running. So a
weight-2 clip plays twice per cycle, but never before every other clip has had its turn; with
too few other clips to separate them, extras are dropped rather than played back to back. The
rest of the cycle and the last clip played are the state kept across restarts.

The saved state is stamped (kiosk.stateschema, "rotation"); `"version": 1` stays in it because
versions before schema stamps read only files that have it. A file a newer version wrote in a
way this one cannot read is left untouched: the booth plays a fresh cycle and does not save.
"""

from __future__ import annotations

import json
import logging
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kiosk import stateschema
from kiosk.durable import write_atomic

log = logging.getLogger(__name__)

Weighted = Callable[[str], float]


@dataclass
class Rotation:
    """The order of play. Pure logic: randomness comes from the injected `rng`."""

    rng: random.Random = field(default_factory=random.Random)
    queue: list[str] = field(default_factory=list)
    last: str | None = None  # the last clip drawn
    # Drawn (decoded ahead of a lift) but not yet played: saved state puts it back in front.
    pending: str | None = None
    last_played: str | None = None

    def next(
        self, files: Sequence[str], weight: Weighted, eligible: Callable[[str], bool]
    ) -> str | None:
        """The next file to play among `files` that is `eligible` now, or None if none is."""
        allowed = [f for f in files if eligible(f)]
        if not allowed:
            return None
        allowed_set = set(allowed)
        # Drop queued files that left the set; a new cycle starts when nothing is left.
        self.queue = [f for f in self.queue if f in files]
        for _ in range(2):
            pick = self._take(allowed_set)
            if pick is not None:
                return self._drawn(pick)
            self.queue = self._cycle(files, weight)
        # Only one eligible clip and it was the last one: playing it again beats silence.
        return self._drawn(allowed[0])

    def _drawn(self, pick: str) -> str:
        self.last = self.pending = pick
        return pick

    def played(self, file: str) -> None:
        """`file` started playing: it is no longer pending."""
        if file == self.pending:
            self.pending = None
        self.last_played = file

    def _take(self, allowed: set[str]) -> str | None:
        for i, f in enumerate(self.queue):
            if f in allowed and f != self.last:
                return self.queue.pop(i)
        return None

    def _cycle(self, files: Sequence[str], weight: Weighted) -> list[str]:
        first = list(files)
        self.rng.shuffle(first)
        if len(first) > 1 and first[0] == self.last:
            j = self.rng.randrange(1, len(first))
            first[0], first[j] = first[j], first[0]
        extras: dict[str, int] = {}
        for f in files:
            w = weight(f)
            n = math.floor(w) - 1 + (self.rng.random() < w - math.floor(w))
            if n > 0:
                extras[f] = n
        return first + self._interleave(extras, first[-1] if first else None)

    def _interleave(self, counts: dict[str, int], prev: str | None) -> list[str]:
        """Random order of the extra plays with no clip twice running; leftovers are dropped."""
        order: list[str] = []
        while counts:
            options = [f for f in counts if f != prev]
            if not options:
                break
            total = sum(counts[f] for f in options)
            pick = self.rng.choices(options, [counts[f] / total for f in options])[0]
            # Place the most-owed clip first when it would otherwise run out of partners.
            top = max(counts, key=lambda f: counts[f])
            if top != prev and counts[top] > sum(counts.values()) - counts[top]:
                pick = top
            order.append(pick)
            counts[pick] -= 1
            if counts[pick] == 0:
                del counts[pick]
            prev = pick
        return order

    def to_json(self) -> dict[str, object]:
        """State as if the pending draw had not happened, so a restart plays it first."""
        if self.pending is None:
            body = {"version": 1, "queue": list(self.queue), "last": self.last}
        else:
            body = {"version": 1, "queue": [self.pending, *self.queue], "last": self.last_played}
        return stateschema.stamped("rotation", body)

    @classmethod
    def from_json(cls, data: object, rng: random.Random | None = None) -> Rotation:
        """Restore saved state; anything malformed starts a fresh cycle."""
        rot = cls(rng=rng or random.Random())
        if isinstance(data, dict) and data.get("version") == 1:
            queue = data.get("queue")
            last = data.get("last")
            if isinstance(queue, list) and all(isinstance(x, str) for x in queue):
                rot.queue = list(queue)
            if isinstance(last, str):
                rot.last = last
        return rot


class RotationStore:
    """Keeps one set's rotation in a JSON file under the state directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.read_only = False  # the file is a newer version's that this one cannot read

    def load(self, rng: random.Random | None = None) -> Rotation:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict):
            try:
                stateschema.check("rotation", self.path, stateschema.json_stamp(data))
            except stateschema.StateSchemaError as e:
                log.error("%s; playing a fresh cycle, not saved", e)
                self.read_only = True
                data = None
        return Rotation.from_json(data, rng)

    def save(self, rotation: Rotation) -> None:
        self.save_json(rotation.to_json())

    def save_json(self, state: dict[str, object]) -> None:
        """Write a snapshot taken with `Rotation.to_json()` (atomic, fsynced)."""
        if self.read_only:
            return
        write_atomic(self.path, json.dumps(state).encode())
