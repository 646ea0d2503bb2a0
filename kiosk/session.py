"""The lift's state machine: no I/O, no threads, no clock of its own.

    IDLE ──lift──▶ PLAYING (a sound is ready) or WAITING (not yet, or audio is down)
    WAITING ──prepared / audio back──▶ PLAYING
    PLAYING ──clip done──▶ PAUSE, or END_TONE once max_clips_per_lift clips have played
    PLAYING ──no-stories prompt done──▶ DONE
    PAUSE ──pause_s over──▶ PLAYING or WAITING
    END_TONE ──done──▶ DONE (silence until hang-up)
    any off-hook state ──offhook_timeout──▶ PROMPT ──done──▶ DONE
    any off-hook state ──hang-up──▶ IDLE

`handle()` takes an event with the monotonic time and the local wall time, and returns the
effects for the main loop to carry out, in order.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kiosk.clips.clipset import Clip
from kiosk.events import (
    AudioBack,
    AudioLost,
    ClipUnplayable,
    HungUp,
    Lifted,
    Prepared,
    SetChanged,
    Sound,
    SoundFinished,
    Tick,
)

log = logging.getLogger(__name__)


class State(StrEnum):
    IDLE = "idle"
    WAITING = "waiting"
    PLAYING = "playing"
    PAUSE = "pause"
    END_TONE = "end_tone"
    PROMPT = "prompt"
    DONE = "done"


@dataclass(frozen=True)
class Play:
    sound: Sound


@dataclass(frozen=True)
class Stop:
    """Fade out whatever plays."""


@dataclass(frozen=True)
class PrepareNext:
    """Draw the next clip from the rotation and decode it in the background."""


@dataclass(frozen=True)
class Persist:
    """Save the rotation: the handset is on the hook, so disk work disturbs nobody."""


@dataclass(frozen=True)
class Report:
    """An event for the outside world (journald, the simulator's JSON, later the hub)."""

    fields: dict[str, Any]


Effect = Play | Stop | PrepareNext | Persist | Report


@dataclass(frozen=True)
class SessionConfig:
    pause_s: float
    max_clips_per_lift: int
    offhook_timeout_s: float


class Session:
    """One handset's lifts. Owned by the main loop thread."""

    def __init__(
        self,
        config: SessionConfig,
        end_tone: Sound,
        hang_up: Sound,
        eligible: Callable[[Clip, dt.datetime], bool],
    ) -> None:
        self.config = config
        self.end_tone = end_tone
        self.hang_up = hang_up
        self.eligible = eligible
        self.state = State.IDLE
        self.ready: Sound | None = None
        self.preparing = False
        self.audio_ok = True
        self.playing: Sound | None = None
        self.started_at = 0.0
        self.lifted_at = 0.0
        self.clips_this_lift = 0
        self.pause_until: float | None = None
        self.prompted = False

    # -- queries -------------------------------------------------------------------------
    @property
    def off_hook(self) -> bool:
        return self.state is not State.IDLE

    def deadline(self) -> float | None:
        """The next monotonic time at which the session wants a Tick."""
        if self.state is State.IDLE:
            return None
        times = [] if self.prompted else [self.lifted_at + self.config.offhook_timeout_s]
        if self.state is State.PAUSE and self.pause_until is not None:
            times.append(self.pause_until)
        return min(times, default=None)

    def status(self) -> str:
        """Human status for systemd's STATUS= and the screen."""
        if not self.audio_ok:
            return "audio error: retrying"
        if self.state is State.PLAYING and self.playing is not None:
            clip = self.playing.clip
            return f"playing: {clip.title}" if clip else "playing: no stories"
        return {State.IDLE: "idle", State.DONE: "off hook: please hang up"}.get(
            self.state, f"off hook: {self.state.value.replace('_', ' ')}"
        )

    # -- transitions -----------------------------------------------------------------------
    def start(self) -> list[Effect]:
        self.preparing = True
        return [PrepareNext()]

    def handle(self, event: object, now: float, wall: dt.datetime) -> list[Effect]:
        before = self.state
        effects = self._dispatch(event, now, wall)
        if self.ready is None and not self.preparing:
            self.preparing = True
            effects.append(PrepareNext())
        if self.state is not before:
            log.debug("state %s -> %s on %s", before, self.state, type(event).__name__)
        return effects

    def _dispatch(self, event: object, now: float, wall: dt.datetime) -> list[Effect]:
        match event:
            case Lifted(t=t) if self.state is State.IDLE:
                self.lifted_at, self.clips_this_lift, self.prompted = t, 0, False
                return [Report({"event": "lift", "t": t}), *self._next(now, wall)]
            case HungUp(t=t) if self.state is not State.IDLE:
                return self._hang_up(t)
            case Prepared(sound=sound):
                self.preparing = False
                self.ready = sound
                return self._next(now, wall) if self.state is State.WAITING else []
            case ClipUnplayable(file=file, reason=reason):
                self.preparing = False
                return [Report({"event": "error", "t": now, "clip": file, "message": reason})]
            case SoundFinished(sound=sound) if sound is self.playing:
                return self._finished(sound, now, wall)
            case AudioLost():
                self.audio_ok = False
                effects = self._end_clip(now, finished=False)
                self.playing = None
                if self.state in (State.PLAYING, State.END_TONE, State.PROMPT):
                    self.state = State.DONE if self.state is not State.PLAYING else State.WAITING
                return effects
            case AudioBack():
                self.audio_ok = True
                return self._next(now, wall) if self.state is State.WAITING else []
            case Tick():
                return self._tick(now, wall)
            case SetChanged():
                if self.ready is not None and self.ready.kind in ("clip", "no_stories"):
                    self.ready = None  # decoded from the old set
                return []
        return []

    def _tick(self, now: float, wall: dt.datetime) -> list[Effect]:
        if self.state is State.IDLE:
            return []
        if not self.prompted and now >= self.lifted_at + self.config.offhook_timeout_s:
            return self._prompt_hang_up(now)
        if self.state is State.PAUSE and self.pause_until is not None and now >= self.pause_until:
            self.pause_until = None
            return self._next(now, wall)
        return []

    def _prompt_hang_up(self, now: float) -> list[Effect]:
        effects = self._end_clip(now, finished=False)
        if self.playing is not None:
            effects.append(Stop())
        self.prompted, self.pause_until = True, None
        held_ms = round((now - self.lifted_at) * 1000)
        effects.append(Report({"event": "offhook_timeout", "t": now, "held_ms": held_ms}))
        if not self.audio_ok:
            self.playing, self.state = None, State.DONE
            return effects
        self.playing, self.started_at, self.state = self.hang_up, now, State.PROMPT
        effects.append(Play(self.hang_up))
        return effects

    def _next(self, now: float, wall: dt.datetime) -> list[Effect]:
        """Play the ready sound if there is one that may play now, else wait for it."""
        sound = self.ready
        if sound is not None and sound.clip is not None and not self.eligible(sound.clip, wall):
            sound = self.ready = None  # expired or out of its daypart since it was decoded
        if sound is None or not self.audio_ok:
            self.state = State.WAITING
            return []
        self.ready = None
        self.playing, self.started_at, self.state = sound, now, State.PLAYING
        effects: list[Effect] = [Play(sound)]
        if sound.clip is not None:
            clip = sound.clip
            effects.append(
                Report(
                    {
                        "event": "clip_start",
                        "t": now,
                        "clip": clip.file,
                        "title": clip.title,
                        "speaker": clip.speaker,
                        "set": sound.set_name,
                    }
                )
            )
        return effects

    def _finished(self, sound: Sound, now: float, wall: dt.datetime) -> list[Effect]:
        effects = self._end_clip(now, finished=True)
        self.playing = None
        if sound.kind == "clip":
            self.clips_this_lift += 1
            if self.clips_this_lift >= self.config.max_clips_per_lift:
                self.playing, self.started_at, self.state = self.end_tone, now, State.END_TONE
                effects.append(Play(self.end_tone))
                effects.append(Report({"event": "lift_complete", "t": now}))
            else:
                self.state, self.pause_until = State.PAUSE, now + self.config.pause_s
            return effects
        self.state = State.DONE
        return effects

    def _end_clip(self, now: float, finished: bool) -> list[Effect]:
        sound = self.playing
        if sound is None or sound.clip is None:
            return []
        elapsed_ms = (now - self.started_at) * 1000
        listened = round(sound.duration_s * 1000) if finished else round(elapsed_ms)
        listened = min(listened, round(sound.duration_s * 1000))
        return [
            Report(
                {
                    "event": "clip_end",
                    "t": now,
                    "clip": sound.clip.file,
                    "title": sound.clip.title,
                    "set": sound.set_name,
                    "listened_ms": listened,
                    "finished": finished,
                }
            )
        ]

    def _hang_up(self, t: float) -> list[Effect]:
        effects = self._end_clip(t, finished=False)
        if self.playing is not None:
            effects.append(Stop())
        held_ms = round((t - self.lifted_at) * 1000)
        effects += [Report({"event": "hangup", "t": t, "held_ms": held_ms}), Persist()]
        self.playing, self.pause_until, self.state = None, None, State.IDLE
        return effects
