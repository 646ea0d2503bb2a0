"""The session's dial: digits by the default map, and the rating question (pure logic)."""

import datetime as dt

from kiosk.clips.clipset import Clip
from kiosk.config import DialMap
from kiosk.events import Dialed, HungUp, Lifted, Prepared, Sound, SoundFinished, Tick
from kiosk.live.events import CallAudio, CallClosed, LiveStatus
from kiosk.session import (
    DialSettings,
    Effect,
    LiveSettings,
    Play,
    PrepareNewest,
    Report,
    Session,
    SessionConfig,
    State,
    Stop,
)

WALL = dt.datetime(2026, 11, 30, 12, 0)
END = Sound("end_tone", None, 1.0)
HANG = Sound("hang_up", None, 2.0)
GUIDE = Sound("guide", None, 9.0)
RATING = Sound("rating", None, 3.0)
CONNECTING = Sound("connecting", None, 1.0)
ENDED = Sound("call_ended", None, 1.0)


def clip(name: str, seconds: float = 30.0) -> Sound:
    return Sound("clip", None, seconds, Clip(file=name, title=f"T {name}", speaker="S"), "set")


def make(ask: bool = True, live: bool = False, interrupt_live: bool = False) -> Session:
    dial = DialSettings(DialMap().action, interrupt_live, ask, 20.0, 8.0, GUIDE, RATING)
    settings = LiveSettings("sip:m@x", 1.5, False, CONNECTING, ENDED) if live else None
    s = Session(
        SessionConfig(pause_s=1.5, max_clips_per_lift=3, offhook_timeout_s=600),
        END,
        HANG,
        lambda c, wall: True,
        settings,
        dial,
    )
    s.start()
    return s


def reports(effects: list[Effect], name: str) -> list[dict[str, object]]:
    return [e.fields for e in effects if isinstance(e, Report) and e.fields["event"] == name]


def lifted(s: Session, first: Sound) -> None:
    s.handle(Prepared(first), 0.0, WALL)
    s.handle(Lifted(1.0), 1.0, WALL)


def test_every_digit_is_a_dial_event_and_2_skips_to_the_next_story() -> None:
    s = make()
    a, b = clip("a"), clip("b")
    lifted(s, a)
    s.handle(Prepared(b), 1.1, WALL)
    fx = s.handle(Dialed("2", "rotary", 5.0), 5.0, WALL)
    assert reports(fx, "dial") == [{"event": "dial", "t": 5.0, "digit": "2", "kind": "rotary"}]
    assert reports(fx, "clip_end")[0]["finished"] is False
    assert Stop() in fx and Play(b) in fx and s.playing is b


def test_3_asks_for_the_newest_and_plays_it_when_decoded() -> None:
    s = make()
    lifted(s, clip("a"))
    fx = s.handle(Dialed("3", "keypad", 5.0), 5.0, WALL)
    assert PrepareNewest() in fx and s.state is State.WAITING
    newest = clip("newest")
    fx = s.handle(Prepared(newest, asked=True), 5.2, WALL)
    assert fx[0] == Play(newest) and s.playing is newest


def test_0_plays_the_guide_then_stories_again() -> None:
    s = make()
    a, b = clip("a"), clip("b")
    lifted(s, a)
    s.handle(Prepared(b), 1.1, WALL)
    fx = s.handle(Dialed("0", "rotary", 3.0), 3.0, WALL)
    assert Play(GUIDE) in fx
    fx = s.handle(SoundFinished(GUIDE), 12.0, WALL)
    assert Play(b) in fx


def test_digits_on_the_hook_or_unmapped_change_nothing() -> None:
    s = make()
    a = clip("a")
    assert reports(s.handle(Dialed("2", "rotary", 0.5), 0.5, WALL), "dial")
    assert s.state is State.IDLE
    lifted(s, a)
    fx = s.handle(Dialed("7", "rotary", 2.0), 2.0, WALL)
    assert [e for e in fx if not isinstance(e, Report)] == [] and s.playing is a


def test_1_without_a_live_call_changes_nothing() -> None:
    s = make()
    a = clip("a")
    lifted(s, a)
    assert s.handle(Dialed("1", "rotary", 2.0), 2.0, WALL)[1:] == [] and s.playing is a


def test_1_dials_a_live_call_and_digits_never_interrupt_it() -> None:
    s = make(live=True)
    s.handle(LiveStatus(False, "no call"), 0.0, WALL)  # so the lift plays a clip first
    lifted(s, clip("a"))
    s.handle(LiveStatus(True), 1.5, WALL)
    fx = s.handle(Dialed("1", "rotary", 2.0), 2.0, WALL)
    assert Play(CONNECTING) in fx and s.state is State.CONNECTING
    s.handle(CallAudio(s.call), 2.5, WALL)
    assert s.state is State.LIVE
    fx = s.handle(Dialed("2", "rotary", 4.0), 4.0, WALL)
    assert s.state is State.LIVE and [e for e in fx if not isinstance(e, Report)] == []


def test_interrupt_live_lets_a_digit_end_the_call() -> None:
    s = make(live=True, interrupt_live=True)
    s.handle(LiveStatus(True), 0.0, WALL)
    s.handle(Lifted(1.0), 1.0, WALL)
    s.handle(CallAudio(s.call), 1.5, WALL)
    s.handle(Prepared(clip("b")), 1.6, WALL)
    fx = s.handle(Dialed("2", "rotary", 4.0), 4.0, WALL)
    assert reports(fx, "live_end")[0]["reason"] == "dialed" and s.state is State.PLAYING


def test_a_clip_heard_long_enough_is_followed_by_the_question_and_1_answers() -> None:
    s = make()
    a = clip("a", 25.0)
    lifted(s, a)
    fx = s.handle(SoundFinished(a), 26.0, WALL)
    assert Play(RATING) in fx and s.state is State.ASKING
    fx = s.handle(SoundFinished(RATING), 29.0, WALL)
    assert s.deadline() == 37.0
    fx = s.handle(Dialed("1", "rotary", 30.0), 30.0, WALL)
    (rating,) = reports(fx, "rating")
    assert rating == {
        "event": "rating",
        "t": 30.0,
        "digit": "1",
        "changed": True,
        "answer_ms": 4000,
        "clip": "a",
        "title": "T a",
        "set": "set",
    }
    assert s.state is State.PAUSE


def test_no_answer_is_a_rating_without_a_digit_and_it_is_asked_once_per_lift() -> None:
    s = make()
    a, b = clip("a", 25.0), clip("b", 25.0)
    lifted(s, a)
    s.handle(Prepared(b), 1.1, WALL)
    s.handle(SoundFinished(a), 26.0, WALL)
    s.handle(SoundFinished(RATING), 29.0, WALL)
    fx = s.handle(Tick(37.0), 37.0, WALL)
    assert reports(fx, "rating")[0]["digit"] is None and s.state is State.PAUSE
    s.handle(Tick(38.5), 38.5, WALL)
    assert s.playing is b
    fx = s.handle(SoundFinished(b), 64.0, WALL)
    assert Play(RATING) not in fx and s.state is State.PAUSE


def test_never_twice_in_a_row_for_the_same_clip_and_never_when_short_or_off() -> None:
    s = make()
    a = clip("a", 25.0)
    lifted(s, a)
    s.handle(SoundFinished(a), 26.0, WALL)
    s.handle(HungUp(27.0), 27.0, WALL)
    s.handle(Prepared(a), 28.0, WALL)
    s.handle(Lifted(30.0), 30.0, WALL)
    assert Play(RATING) not in s.handle(SoundFinished(a), 56.0, WALL)
    short = make()
    lifted(short, clip("s", 5.0))
    assert short.handle(SoundFinished(short.playing), 7.0, WALL)[-1:] != [Play(RATING)]  # type: ignore[arg-type]
    off = make(ask=False)
    b = clip("b", 25.0)
    lifted(off, b)
    assert Play(RATING) not in off.handle(SoundFinished(b), 27.0, WALL)


def test_hanging_up_mid_prompt_stops_it_and_records_no_answer() -> None:
    s = make()
    a = clip("a", 25.0)
    lifted(s, a)
    s.handle(SoundFinished(a), 26.0, WALL)
    fx = s.handle(HungUp(27.0), 27.0, WALL)
    assert reports(fx, "rating")[0]["digit"] is None and Stop() in fx
    assert s.state is State.IDLE


def test_a_live_call_heard_long_enough_is_asked_about_after_the_cue() -> None:
    s = make(live=True)
    s.handle(LiveStatus(True), 0.0, WALL)
    s.handle(Lifted(1.0), 1.0, WALL)
    s.handle(CallAudio(s.call, call_id="c-9", source="hub"), 2.0, WALL)
    fx = s.handle(CallClosed(s.call, "far end"), 40.0, WALL)
    assert Play(ENDED) in fx and s.state is State.ASKING
    fx = s.handle(SoundFinished(ENDED), 41.0, WALL)
    assert fx == [Play(RATING)]
    fx = s.handle(Dialed("5", "keypad", 42.0), 42.0, WALL)
    (rating,) = reports(fx, "rating")
    assert rating["call_id"] == "c-9" and rating["changed"] is False and rating["digit"] == "5"
