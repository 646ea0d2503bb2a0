"""The lift's state machine: no I/O, no threads, no clock of its own.

    IDLE ──lift──▶ PLAYING (a sound is ready) or WAITING (not yet, or audio is down)
    WAITING ──prepared / audio back──▶ PLAYING
    PLAYING ──clip done──▶ PAUSE, or END_TONE once max_clips_per_lift clips have played
    PLAYING ──no-stories prompt done──▶ DONE
    PAUSE ──pause_s over──▶ PLAYING or WAITING
    END_TONE ──done──▶ DONE (silence until hang-up)
    any off-hook state ──offhook_timeout──▶ PROMPT ──done──▶ DONE
    any off-hook state ──hang-up──▶ IDLE

With live calls (`live` set and baresip up), a lift dials instead of playing a clip:

    IDLE ──lift──▶ CONNECTING (the "connecting" cue plays; Dial)
    CONNECTING ──RTP flows──▶ LIVE (the cue fades out; baresip plays the call)
    CONNECTING ──rejected / answer_timeout / baresip down──▶ clips (after the cue, if it plays)
    LIVE ──far end hangs up──▶ the "call ended" cue, then CONNECTING (live.continue) or clips
    LIVE ──hang-up / offhook_timeout──▶ Hangup, then as above

With a dial (`dial`, docs/dial.md), a digit does what the map says: a live call, the next or
the newest story, or the spoken guide, cutting short what plays (never a live call unless
`interrupt_live`). After a clip or call heard for `ask_after_s`, once per lift:

    PLAYING / LIVE ──done──▶ ASKING (the rating prompt; `answer_s` for a digit) ──▶ as before

From the hub relay (`live.source: hub`) "dial" means "listen to the call the hub picks", and
`live_up` means a call is live there; the transitions are the same.

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
    Dialed,
    HungUp,
    Lifted,
    Prepared,
    SetChanged,
    Sound,
    SoundFinished,
    Tick,
)
from kiosk.live.events import CallAnswered, CallAudio, CallClosed, LiveStatus

log = logging.getLogger(__name__)


class State(StrEnum):
    IDLE = "idle"
    WAITING = "waiting"
    PLAYING = "playing"
    PAUSE = "pause"
    END_TONE = "end_tone"
    PROMPT = "prompt"
    DONE = "done"
    CONNECTING = "connecting"
    LIVE = "live"
    ASKING = "asking"


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
class PrepareNewest:
    """Decode the set's newest clip; it comes back as Prepared(asked=True)."""


@dataclass(frozen=True)
class Persist:
    """Save the rotation: the handset is on the hook, so disk work disturbs nobody."""


@dataclass(frozen=True)
class Report:
    """An event for the outside world (journald, the simulator's JSON, later the hub)."""

    fields: dict[str, Any]


@dataclass(frozen=True)
class Dial:
    """Ask baresip to call `uri`; its events come back tagged with `call`."""

    call: int
    uri: str


@dataclass(frozen=True)
class Hangup:
    """Send BYE (or CANCEL) for dial number `call`; baresip stops playing at once."""

    call: int


Effect = Play | Stop | PrepareNext | PrepareNewest | Persist | Report | Dial | Hangup
CUES = ("connecting", "call_ended")


@dataclass(frozen=True)
class SessionConfig:
    pause_s: float
    max_clips_per_lift: int
    offhook_timeout_s: float


@dataclass(frozen=True)
class LiveSettings:
    """The `live:` keys the session needs, and the two cues (Sounds of kind CUES)."""

    uri: str
    answer_timeout_s: float
    continue_: bool
    connecting: Sound
    call_ended: Sound
    source: str = "sip"  # named in live_start/live_end unless the call names its platform


@dataclass(frozen=True)
class DialSettings:
    """The `dial:` keys the session needs, and its two prompts (Sounds "guide", "rating")."""

    action: Callable[[str], str]  # digit -> live | next | newest | guide | none
    interrupt_live: bool
    ask: bool
    ask_after_s: float
    answer_s: float
    guide: Sound
    rating: Sound


class Session:
    """One handset's lifts. Owned by the main loop thread."""

    def __init__(
        self,
        config: SessionConfig,
        end_tone: Sound,
        hang_up: Sound,
        eligible: Callable[[Clip, dt.datetime], bool],
        live: LiveSettings | None = None,
        dial: DialSettings | None = None,
    ) -> None:
        self.config = config
        self.live = live
        self.dial = dial
        self.asked = False  # the rating prompt was played this lift
        self.last_rated = ""  # what was asked about last (never twice in a row)
        self.ask_about: dict[str, Any] = {}  # the clip or call the rating is about
        self.ask_started: float | None = None  # when the rating prompt began
        self.ask_until: float | None = None  # the answer window's end
        self.after_ask = "next"  # pause | end_tone | next | dial
        self.wanted = False  # a digit asked for a clip (PrepareNewest) not yet decoded
        self._heard_since: float | None = None  # the call that ended last: since when heard
        self._heard_tags: dict[str, str] = {}
        self.live_up = False
        self.call = 0  # number of the latest dial
        self.call_open = False  # that dial has not ended yet
        self.dialed_at = 0.0
        self.answered = False  # that dial got a 200 OK
        self.live_since: float | None = None  # when its audio started
        self.call_tags: dict[str, str] = {}  # source and call_id of the call heard
        self.end_tone = end_tone
        self.hang_up = hang_up
        self.eligible = eligible
        self.state = State.IDLE
        self.ready: Sound | None = None
        self.preparing = False
        self.audio_ok = True
        self.audio_problem = ""  # why audio is down, named in the error a lift reports
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
        if self.state is State.CONNECTING and self.call_open and self.live is not None:
            times.append(self.dialed_at + self.live.answer_timeout_s)
        if self.state is State.ASKING and self.ask_until is not None:
            times.append(self.ask_until)
        return min(times, default=None)

    def status(self) -> str:
        """Human status for systemd's STATUS= and the screen."""
        if not self.audio_ok:
            return "audio error: retrying"
        if self.state is State.LIVE:
            return "live call"
        if self.state is State.ASKING:
            return "asking: did this change your view? (dial 1)"
        if self.playing is not None and self.playing.kind in CUES:
            return (
                "connecting to a live call" if self.state is State.CONNECTING else "live call ended"
            )
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
                self.asked, self.wanted = False, False
                lift: list[Effect] = [Report({"event": "lift", "t": t})]
                if not self.audio_ok:  # the dashboard still sees people trying
                    problem = f"lifted while audio is unavailable: {self.audio_problem}"
                    lift.append(
                        Report({"event": "error", "t": t, "source": "audio", "message": problem})
                    )
                if self.live is not None and self.live_up and self.audio_ok:
                    self.playing, self.started_at = self.live.connecting, now
                    return [*lift, Play(self.live.connecting), *self._dial(now)]
                return [*lift, *self._next(now, wall)]
            case CallAudio(call=call) if self._current(call) and self.state is State.CONNECTING:
                return self._live_start(now, event)
            case CallAnswered(call=call) if self._current(call):
                self.answered = True  # audible only once RTP flows (CallAudio)
                return []
            case CallClosed(call=call, reason=reason, more=more) if self._current(call):
                return self._call_closed(reason, now, wall, more)
            case LiveStatus(up=up, reason=reason):
                self.live_up = up
                if not up and self.call_open:
                    return self._call_closed(reason or "baresip unavailable", now, wall)
                return []
            case HungUp(t=t) if self.state is not State.IDLE:
                return self._hang_up(t)
            case Dialed(digit=digit, kind=kind, t=t):
                return self._dialed(digit, kind, t, now, wall)
            case Prepared(sound=sound, asked=True):
                if not self.wanted or self.state is not State.WAITING:
                    return []  # the listener hung up or chose something else meanwhile
                self.wanted = False
                return self._play_next(sound, now)
            case Prepared(sound=sound):
                self.preparing = False
                self.ready = sound
                return self._next(now, wall) if self.state is State.WAITING else []
            case ClipUnplayable(file=file, reason=reason):
                self.preparing = False
                return [Report({"event": "error", "t": now, "clip": file, "message": reason})]
            case SoundFinished(sound=sound) if sound is self.playing:
                return self._finished(sound, now, wall)
            case AudioLost(reason=reason):
                self.audio_ok, self.audio_problem = False, reason
                effects = self._unanswered(now) + self._end_clip(now, finished=False)
                if self.state is State.ASKING:
                    self.state = State.PLAYING
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

    # -- live calls ----------------------------------------------------------------------
    def _current(self, call: int) -> bool:
        return call == self.call and self.call_open

    def _dial(self, now: float) -> list[Effect]:
        assert self.live is not None
        self.call += 1
        self.call_open, self.dialed_at, self.live_since = True, now, None
        self.answered = False
        self.call_tags = {}
        self.state = State.CONNECTING
        return [Dial(self.call, self.live.uri)]

    def _live_start(self, now: float, audio: CallAudio) -> list[Effect]:
        assert self.live is not None
        self.state, self.live_since = State.LIVE, now
        self.call_tags = {"source": audio.source or self.live.source}
        if audio.call_id:
            self.call_tags["call_id"] = audio.call_id
        effects: list[Effect] = []
        if self.playing is not None:
            effects.append(Stop())  # the cue gives way to the call
            self.playing = None
        report = {"event": "live_start", "t": now, "uri": self.live.uri, **self.call_tags}
        effects.append(Report(report))
        return effects

    def _end_call(self, reason: str, now: float, hang_up: bool) -> list[Effect]:
        """Close the current dial: Hangup if we end it, and its `live_end`."""
        if not self.call_open or self.live is None:
            return []
        self.call_open = False
        since = self.live_since
        self._heard_since, self._heard_tags = since, dict(self.call_tags)
        tags = self.call_tags if since is not None else {"source": self.live.source}
        listened = 0 if since is None else round((now - since) * 1000)
        self.live_since = None
        effects: list[Effect] = [Hangup(self.call)] if hang_up else []
        report = {"event": "live_end", "t": now, "listened_ms": listened, "reason": reason}
        effects.append(Report({**report, "uri": self.live.uri, **tags}))
        return effects

    def _call_closed(
        self, reason: str, now: float, wall: dt.datetime, more: bool | None = None
    ) -> list[Effect]:
        assert self.live is not None
        was_live = self.state is State.LIVE
        effects = self._end_call(reason, now, hang_up=False)
        if not was_live:
            return effects + self._fall_back(now, wall)
        # The support call ended: a short cue, then the next live call or clips.
        heard_s = now - since if (since := self._heard_since) is not None else 0.0
        cue = self.live.call_ended
        self.playing, self.started_at = cue, now
        effects.append(Play(cue))
        again = self.live.continue_ and self.live_up and more is not False
        if self._should_ask(heard_s, f"live/{self._heard_tags.get('call_id', '')}"):
            self.after_ask = "dial" if again else "next"
            return effects + self._ask(dict(self._heard_tags), now, cue=True)
        if again:
            return effects + self._dial(now)
        self.state = State.PLAYING
        return effects

    def _fall_back(self, now: float, wall: dt.datetime) -> list[Effect]:
        """To clips: at once, or when the cue that plays has finished."""
        if self.playing is not None and self.playing.kind in CUES:
            self.state = State.PLAYING
            return []
        return self._next(now, wall)

    def _tick(self, now: float, wall: dt.datetime) -> list[Effect]:
        if self.state is State.IDLE:
            return []
        if not self.prompted and now >= self.lifted_at + self.config.offhook_timeout_s:
            return self._prompt_hang_up(now)
        if (
            self.state is State.CONNECTING
            and self.call_open
            and self.live is not None
            and now >= self.dialed_at + self.live.answer_timeout_s
        ):
            reason = "no RTP" if self.answered else "no answer"
            return self._end_call(reason, now, hang_up=True) + self._fall_back(now, wall)
        if self.state is State.PAUSE and self.pause_until is not None and now >= self.pause_until:
            self.pause_until = None
            return self._next(now, wall)
        if self.state is State.ASKING and self.ask_until is not None and now >= self.ask_until:
            return self._unanswered(now) + self._after_ask(now, wall)
        return []

    def _prompt_hang_up(self, now: float) -> list[Effect]:
        effects = self._unanswered(now) + self._end_call("offhook_timeout", now, hang_up=True)
        effects += self._end_clip(now, finished=False)
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
        return self._play_next(sound, now)

    def _play_next(self, sound: Sound, now: float) -> list[Effect]:
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
        if self.state is State.ASKING:
            if sound.kind == "rating":  # the prompt is over: the answer window runs
                assert self.dial is not None
                self.ask_until = now + self.dial.answer_s
                return effects
            return effects + self._ask_now(now)  # the "call ended" cue before the prompt
        if sound.kind == "guide":
            return effects + self._next(now, wall)
        if sound.kind in CUES:
            # Still connecting: silence until the call's audio or answer_timeout.
            return [] if self.state is State.CONNECTING else self._next(now, wall)
        if sound.kind == "clip":
            self.clips_this_lift += 1
            last = self.clips_this_lift >= self.config.max_clips_per_lift
            about = {"clip": sound.clip.file, "title": sound.clip.title} if sound.clip else {}
            if self._should_ask(sound.duration_s, f"{sound.set_name}/{about.get('clip')}"):
                self.after_ask = "end_tone" if last else "pause"
                return effects + self._ask({**about, "set": sound.set_name}, now, cue=False)
            if last:
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
        self.wanted = False
        effects = self._unanswered(t) + self._end_call("hangup", t, hang_up=True)
        effects += self._end_clip(t, finished=False)
        if self.playing is not None:
            effects.append(Stop())
        held_ms = round((t - self.lifted_at) * 1000)
        effects += [Report({"event": "hangup", "t": t, "held_ms": held_ms}), Persist()]
        self.playing, self.pause_until, self.state = None, None, State.IDLE
        return effects

    # -- the dial --------------------------------------------------------------------------
    def _dialed(
        self, digit: str, kind: str, t: float, now: float, wall: dt.datetime
    ) -> list[Effect]:
        """`t`: when the digit was dialed (a key's press; a turn's end), `now` is later."""
        effects: list[Effect] = [Report({"event": "dial", "t": t, "digit": digit, "kind": kind})]
        if self.dial is None or self.state in (State.IDLE, State.PROMPT):
            return effects
        if self.state is State.ASKING:
            effects += self._rated(digit, now)
            if digit == "1" or self.dial.action(digit) == "none":
                return effects + self._after_ask(now, wall)
            self.after_ask = "next"  # another digit answers, then does what it says
        action = self.dial.action(digit)
        if action == "none":
            return effects
        if self.state in (State.CONNECTING, State.LIVE) and not self.dial.interrupt_live:
            return effects
        if action == "live" and (self.live is None or not self.live_up or not self.audio_ok):
            return effects  # no call is live: what plays goes on
        effects += self._end_call("dialed", now, hang_up=True)
        effects += self._end_clip(now, finished=False)
        if self.playing is not None:
            effects.append(Stop())
        self.playing, self.pause_until, self.wanted = None, None, False
        if action == "live":
            assert self.live is not None
            self.playing, self.started_at = self.live.connecting, now
            return [*effects, Play(self.live.connecting), *self._dial(now)]
        if action == "guide":
            self.playing, self.started_at, self.state = self.dial.guide, now, State.PLAYING
            return [*effects, Play(self.dial.guide)]
        if action == "newest":
            self.wanted, self.state = True, State.WAITING
            return [*effects, PrepareNewest()]
        return effects + self._next(now, wall)

    def _should_ask(self, heard_s: float, key: str) -> bool:
        d = self.dial
        if d is None or not d.ask or self.asked or not self.audio_ok or heard_s < d.ask_after_s:
            return False
        return key != self.last_rated

    def _ask(self, about: dict[str, Any], now: float, cue: bool) -> list[Effect]:
        """Ask what it changed: now, or once the "call ended" cue that plays is over."""
        key = f"{about.get('set')}/{about.get('clip')}" if "clip" in about else ""
        self.asked, self.last_rated = True, key or f"live/{about.get('call_id', '')}"
        self.ask_about, self.ask_started, self.ask_until = about, None, None
        self.state, self.pause_until = State.ASKING, None
        return [] if cue else self._ask_now(now)

    def _ask_now(self, now: float) -> list[Effect]:
        assert self.dial is not None
        self.ask_started = now
        self.playing, self.started_at = self.dial.rating, now
        return [Play(self.dial.rating)]

    def _rated(self, digit: str | None, now: float) -> list[Effect]:
        """The `rating` event: the clip or call, the digit or None, and the time to answer."""
        started = self.ask_started
        answer_ms = round((now - started) * 1000) if digit is not None and started else None
        effects: list[Effect] = []
        if self.playing is not None:  # answered during the prompt: it stops
            effects.append(Stop())
            self.playing = None
        self.ask_until = None
        report = {"event": "rating", "t": now, "digit": digit, "changed": digit == "1"}
        effects.append(Report({**report, "answer_ms": answer_ms, **self.ask_about}))
        return effects

    def _unanswered(self, now: float) -> list[Effect]:
        return self._rated(None, now) if self.state is State.ASKING else []

    def _after_ask(self, now: float, wall: dt.datetime) -> list[Effect]:
        """Go on as the clip's or call's end would have without the question."""
        then, self.after_ask = self.after_ask, "next"
        if then == "pause":
            self.state, self.pause_until = State.PAUSE, now + self.config.pause_s
            return []
        if then == "end_tone":
            self.playing, self.started_at, self.state = self.end_tone, now, State.END_TONE
            return [Play(self.end_tone), Report({"event": "lift_complete", "t": now})]
        if then == "dial" and self.live is not None and self.live_up:
            return self._dial(now)
        return self._next(now, wall)
