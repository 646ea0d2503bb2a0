"""The lift's state machine, driven event by event with a fake clock (pure logic)."""

import datetime as dt

import pytest

from kiosk.clips.clipset import Clip
from kiosk.events import (
    AudioBack,
    AudioLost,
    ClipUnplayable,
    HungUp,
    Lifted,
    Prepared,
    Sound,
    SoundFinished,
    Tick,
)
from kiosk.session import (
    Effect,
    Persist,
    Play,
    PrepareNext,
    Report,
    Session,
    SessionConfig,
    State,
    Stop,
)

WALL = dt.datetime(2026, 11, 23, 12, 0)
END = Sound("end_tone", None, 1.0)
HANG = Sound("hang_up", None, 2.0)
NO_STORIES = Sound("no_stories", None, 3.0)


def clip(name: str, expires: dt.date | None = None) -> Sound:
    c = Clip(file=name, title=f"T {name}", speaker="S", expires=expires)
    return Sound("clip", None, 10.0, c, "set")


def make(max_clips: int = 2) -> Session:
    s = Session(
        SessionConfig(pause_s=1.5, max_clips_per_lift=max_clips, offhook_timeout_s=60),
        END,
        HANG,
        lambda c, wall: c.expires is None or wall.date() <= c.expires,
    )
    assert s.start() == [PrepareNext()]
    return s


def events(effects: list[Effect]) -> list[str]:
    return [e.fields["event"] for e in effects if isinstance(e, Report)]


def test_lift_plays_the_ready_clip_at_once_and_prepares_the_next() -> None:
    s = make()
    a = clip("a")
    assert s.handle(Prepared(a), 0.0, WALL) == []
    fx = s.handle(Lifted(10.0), 10.0, WALL)
    assert fx[0] == Report({"event": "lift", "t": 10.0})
    assert fx[1] == Play(a)
    assert events(fx) == ["lift", "clip_start"]
    assert fx[-1] == PrepareNext()
    assert s.state is State.PLAYING and s.status() == "playing: T a"


def test_full_lift_pause_next_then_end_tone_then_silence() -> None:
    s = make(max_clips=2)
    a, b = clip("a"), clip("b")
    s.handle(Prepared(a), 0, WALL)
    s.handle(Lifted(1.0), 1.0, WALL)
    s.handle(Prepared(b), 1.2, WALL)
    fx = s.handle(SoundFinished(a), 11.0, WALL)
    assert events(fx) == ["clip_end"]
    assert fx[0].fields["listened_ms"] == 10000 and fx[0].fields["finished"] is True  # type: ignore[union-attr]
    assert s.state is State.PAUSE and s.deadline() == 12.5
    assert s.handle(Tick(12.0), 12.0, WALL) == []
    fx = s.handle(Tick(12.5), 12.5, WALL)
    assert Play(b) in fx and s.state is State.PLAYING
    fx = s.handle(SoundFinished(b), 22.5, WALL)
    assert Play(END) in fx and s.state is State.END_TONE
    assert events(fx) == ["clip_end", "lift_complete"]
    assert s.handle(SoundFinished(END), 23.5, WALL) == []
    assert s.state is State.DONE


def test_hang_up_mid_clip_stops_reports_listened_and_persists() -> None:
    s = make()
    a = clip("a")
    s.handle(Prepared(a), 0, WALL)
    s.handle(Lifted(1.0), 1.0, WALL)
    fx = s.handle(HungUp(4.25), 4.25, WALL)
    assert Stop() in fx and Persist() in fx
    assert events(fx) == ["clip_end", "hangup"]
    end = fx[0]
    assert isinstance(end, Report)
    assert end.fields["listened_ms"] == 3250 and end.fields["finished"] is False
    assert s.state is State.IDLE and s.deadline() is None


def test_lift_before_anything_is_decoded_waits_then_plays() -> None:
    s = make()
    s.handle(Lifted(1.0), 1.0, WALL)
    assert s.state is State.WAITING
    a = clip("a")
    fx = s.handle(Prepared(a), 1.1, WALL)
    assert Play(a) in fx and s.state is State.PLAYING


def test_an_expired_ready_clip_is_never_played() -> None:
    s = make()
    old = clip("old", expires=dt.date(2026, 11, 22))
    s.handle(Prepared(old), 0, WALL)
    fx = s.handle(Lifted(1.0), 1.0, WALL)
    assert not any(isinstance(e, Play) for e in fx)
    assert PrepareNext() in fx and s.state is State.WAITING


def test_offhook_timeout_prompts_once_then_silence() -> None:
    s = make(max_clips=1)
    a = clip("a")
    s.handle(Prepared(a), 0, WALL)
    s.handle(Lifted(0.0), 0.0, WALL)
    s.handle(SoundFinished(a), 10.0, WALL)
    s.handle(SoundFinished(END), 11.0, WALL)
    assert s.state is State.DONE and s.deadline() == 60.0
    fx = s.handle(Tick(60.0), 60.0, WALL)
    assert Play(HANG) in fx and events(fx) == ["offhook_timeout"]
    assert s.state is State.PROMPT and s.deadline() is None
    s.handle(SoundFinished(HANG), 62.0, WALL)
    assert s.state is State.DONE and s.deadline() is None
    assert s.handle(Tick(1000.0), 1000.0, WALL) == []


def test_offhook_timeout_cuts_a_playing_clip() -> None:
    s = make(max_clips=5)
    long = Sound("clip", None, 120.0, Clip(file="l.ogg", title="L", speaker="S"), "set")
    s.handle(Prepared(long), 0, WALL)
    s.handle(Lifted(0.0), 0.0, WALL)
    fx = s.handle(Tick(60.0), 60.0, WALL)
    assert events(fx) == ["clip_end", "offhook_timeout"]
    assert fx.index(Stop()) < fx.index(Play(HANG))


def test_empty_set_plays_no_stories_once() -> None:
    s = make()
    s.handle(Prepared(NO_STORIES), 0, WALL)
    fx = s.handle(Lifted(1.0), 1.0, WALL)
    assert Play(NO_STORIES) in fx and events(fx) == ["lift"]
    s.handle(Prepared(NO_STORIES), 1.1, WALL)
    s.handle(SoundFinished(NO_STORIES), 4.0, WALL)
    assert s.state is State.DONE


def test_unplayable_clip_reports_and_asks_for_another() -> None:
    s = make()
    fx = s.handle(ClipUnplayable("bad.ogg", "/x/bad.ogg: cannot decode"), 0.5, WALL)
    assert events(fx) == ["error"] and fx[-1] == PrepareNext()


def test_stale_finish_of_a_stopped_sound_is_ignored() -> None:
    s = make()
    a, b = clip("a"), clip("b")
    s.handle(Prepared(a), 0, WALL)
    s.handle(Lifted(1.0), 1.0, WALL)
    s.handle(HungUp(2.0), 2.0, WALL)
    s.handle(Prepared(b), 2.1, WALL)
    s.handle(Lifted(3.0), 3.0, WALL)
    assert s.handle(SoundFinished(a), 3.1, WALL) == [] and s.state is State.PLAYING


def test_audio_loss_mid_clip_ends_it_and_resumes_when_back() -> None:
    s = make(max_clips=5)
    a, b = clip("a"), clip("b")
    s.handle(Prepared(a), 0, WALL)
    s.handle(Lifted(1.0), 1.0, WALL)
    s.handle(Prepared(b), 1.1, WALL)
    fx = s.handle(AudioLost("unplugged"), 3.0, WALL)
    assert events(fx) == ["clip_end"] and s.state is State.WAITING
    assert s.status() == "audio error: retrying"
    fx = s.handle(AudioBack("usb"), 5.0, WALL)
    assert Play(b) in fx and s.state is State.PLAYING


@pytest.mark.parametrize("event", [HungUp(1.0), SoundFinished(END), Tick(5.0)])
def test_idle_ignores_noise(event: object) -> None:
    s = make()
    assert s.handle(event, 5.0, WALL) == [] and s.state is State.IDLE
