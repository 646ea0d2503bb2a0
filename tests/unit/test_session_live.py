"""Live calls in the lift's state machine: dial, give way, fall back, continue (pure logic)."""

import datetime as dt

import pytest

from kiosk.clips.clipset import Clip
from kiosk.events import HungUp, Lifted, Prepared, Sound, SoundFinished, Tick
from kiosk.live.events import CallAnswered, CallAudio, CallClosed, LiveStatus
from kiosk.session import (
    Dial,
    Effect,
    Hangup,
    LiveSettings,
    Play,
    Report,
    Session,
    SessionConfig,
    State,
    Stop,
)

WALL = dt.datetime(2026, 11, 23, 12, 0)
URI = "sip:*222@pbx.test"
CUE = Sound("connecting", None, 0.26)
ENDED = Sound("call_ended", None, 0.26)
CLIP = Sound("clip", None, 10.0, Clip(file="a.ogg", title="T", speaker="S"), "set")


def make(continue_: bool = False, up: bool = True) -> Session:
    s = Session(
        SessionConfig(pause_s=1.5, max_clips_per_lift=3, offhook_timeout_s=60),
        Sound("end_tone", None, 1.0),
        Sound("hang_up", None, 2.0),
        lambda c, wall: True,
        LiveSettings(URI, 1.5, continue_, CUE, ENDED),
    )
    s.start()
    s.handle(Prepared(CLIP), 0.0, WALL)
    s.handle(LiveStatus(up, "" if up else "registration failed: 503"), 0.0, WALL)
    return s


def reports(effects: list[Effect]) -> list[dict[str, object]]:
    return [e.fields for e in effects if isinstance(e, Report)]


def names(effects: list[Effect]) -> list[str]:
    return [str(f["event"]) for f in reports(effects)]


def test_lift_plays_the_cue_at_once_then_dials() -> None:
    s = make()
    fx = s.handle(Lifted(10.0), 10.0, WALL)
    assert fx[:3] == [Report({"event": "lift", "t": 10.0}), Play(CUE), Dial(1, URI)]
    assert s.state is State.CONNECTING and s.deadline() == 11.5
    assert s.status() == "connecting to a live call"


def test_audio_flowing_fades_the_cue_and_goes_live() -> None:
    s = make()
    s.handle(Lifted(10.0), 10.0, WALL)
    assert s.handle(CallAnswered(1), 10.1, WALL) == []
    fx = s.handle(CallAudio(1), 10.11, WALL)
    assert fx == [Stop(), Report({"event": "live_start", "t": 10.11, "uri": URI, "source": "sip"})]
    assert s.state is State.LIVE and s.status() == "live call"


def test_hang_up_while_live_sends_bye_and_reports_what_was_heard() -> None:
    s = make()
    s.handle(Lifted(10.0), 10.0, WALL)
    s.handle(SoundFinished(CUE), 10.26, WALL)
    s.handle(CallAudio(1), 10.3, WALL)
    fx = s.handle(HungUp(42.3), 42.3, WALL)
    assert fx[0] == Hangup(1)
    assert reports(fx)[0] == {
        "event": "live_end",
        "t": 42.3,
        "listened_ms": 32000,
        "reason": "hangup",
        "uri": URI,
        "source": "sip",
    }
    assert names(fx) == ["live_end", "hangup"] and Stop() not in fx
    assert s.state is State.IDLE
    assert s.handle(CallClosed(1, "hangup"), 42.31, WALL) == []  # baresip's echo: ignored


@pytest.mark.parametrize("reason", ["486 Busy Here", "404 Not Found", "503 Service Unavailable"])
def test_rejection_falls_back_to_clips_once_the_cue_is_over(reason: str) -> None:
    s = make()
    s.handle(Lifted(10.0), 10.0, WALL)
    fx = s.handle(CallClosed(1, reason), 10.01, WALL)
    assert reports(fx) == [
        {
            "event": "live_end",
            "t": 10.01,
            "listened_ms": 0,
            "reason": reason,
            "uri": URI,
            "source": "sip",
        }
    ]
    assert Hangup(1) not in fx and s.state is State.PLAYING  # the cue finishes its two notes
    fx = s.handle(SoundFinished(CUE), 10.26, WALL)
    assert fx[0] == Play(CLIP) and names(fx) == ["clip_start"]


@pytest.mark.parametrize(("answered", "reason"), [(False, "no answer"), (True, "no RTP")])
def test_answer_timeout_cancels_and_plays_clips(answered: bool, reason: str) -> None:
    s = make()
    s.handle(Lifted(10.0), 10.0, WALL)
    s.handle(SoundFinished(CUE), 10.26, WALL)
    if answered:
        s.handle(CallAnswered(1), 10.1, WALL)
    assert s.handle(Tick(11.4), 11.4, WALL) == []
    fx = s.handle(Tick(11.5), 11.5, WALL)
    assert fx[0] == Hangup(1) and reports(fx)[0]["reason"] == reason
    assert Play(CLIP) in fx and s.state is State.PLAYING


def test_live_down_plays_clips_without_dialing() -> None:
    s = make(up=False)
    fx = s.handle(Lifted(10.0), 10.0, WALL)
    assert fx[1] == Play(CLIP) and not any(isinstance(e, Dial) for e in fx)


def test_baresip_dying_mid_call_ends_it_and_plays_the_ended_cue() -> None:
    s = make()
    s.handle(Lifted(10.0), 10.0, WALL)
    s.handle(CallAudio(1), 10.2, WALL)
    fx = s.handle(LiveStatus(False, "baresip exited with -9"), 12.2, WALL)
    assert reports(fx)[0]["reason"] == "baresip exited with -9"
    assert Play(ENDED) in fx and not any(isinstance(e, Dial) for e in fx)
    assert s.handle(SoundFinished(ENDED), 12.5, WALL)[0] == Play(CLIP)


def test_far_end_bye_cue_then_clips() -> None:
    s = make()
    s.handle(Lifted(10.0), 10.0, WALL)
    s.handle(CallAudio(1), 10.2, WALL)
    fx = s.handle(CallClosed(1, "BYE"), 70.2, WALL)
    assert reports(fx)[0]["listened_ms"] == 60000 and reports(fx)[0]["reason"] == "BYE"
    assert Play(ENDED) in fx and s.state is State.PLAYING and s.status() == "live call ended"
    assert s.handle(SoundFinished(ENDED), 70.5, WALL)[0] == Play(CLIP)


def test_far_end_bye_with_continue_dials_the_next_live_call() -> None:
    s = make(continue_=True)
    s.handle(Lifted(10.0), 10.0, WALL)
    s.handle(CallAudio(1), 10.2, WALL)
    fx = s.handle(CallClosed(1, "BYE"), 20.0, WALL)
    assert fx[-2:] == [Play(ENDED), Dial(2, URI)] and s.state is State.CONNECTING
    assert s.handle(SoundFinished(ENDED), 20.26, WALL) == []  # silence while it connects
    assert s.handle(CallAudio(1), 20.3, WALL) == []  # the old call's late event: ignored
    assert names(s.handle(CallAudio(2), 20.4, WALL)) == ["live_start"]


def test_offhook_timeout_hangs_up_a_live_call_before_the_prompt() -> None:
    s = make()
    s.handle(Lifted(10.0), 10.0, WALL)
    s.handle(CallAudio(1), 10.2, WALL)
    fx = s.handle(Tick(70.0), 70.0, WALL)
    assert fx[0] == Hangup(1) and names(fx) == ["live_end", "offhook_timeout"]
    assert s.state is State.PROMPT


def test_relayed_call_names_its_platform_and_id_and_says_when_none_follows() -> None:
    s = Session(
        SessionConfig(pause_s=1.5, max_clips_per_lift=3, offhook_timeout_s=60),
        Sound("end_tone", None, 1.0),
        Sound("hang_up", None, 2.0),
        lambda c, wall: True,
        LiveSettings("ws://hub/live/booth", 1.5, True, CUE, ENDED, "hub"),
    )
    s.start()
    s.handle(Prepared(CLIP), 0.0, WALL)
    s.handle(LiveStatus(True), 0.0, WALL)
    s.handle(Lifted(10.0), 10.0, WALL)
    start = reports(s.handle(CallAudio(1, "twilio", "CA1"), 10.02, WALL))[0]
    assert (start["source"], start["call_id"]) == ("twilio", "CA1")
    fx = s.handle(CallClosed(1, "call ended", more=False), 20.0, WALL)
    end = reports(fx)[0]
    assert (end["source"], end["call_id"], end["reason"]) == ("twilio", "CA1", "call ended")
    assert not any(isinstance(e, Dial) for e in fx)  # live.continue, but no other call
    assert s.handle(SoundFinished(ENDED), 20.26, WALL)[0] == Play(CLIP)
    # A dial the hub answered with no call at all: source "hub", no call_id.
    s.handle(HungUp(21.0), 21.0, WALL)
    s.handle(Prepared(CLIP), 21.0, WALL)
    s.handle(Lifted(30.0), 30.0, WALL)
    none = reports(s.handle(CallClosed(2, "no live call"), 30.01, WALL))[0]
    assert none["source"] == "hub" and "call_id" not in none and none["listened_ms"] == 0
