"""The hub relay's pure parts: signatures, settings, the call picked, the fan-out; and the booth's
μ-law table, jitter buffer and live samples. The real hub and booth: test_live_hub.py."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from hub.live.relay import HEADER, Listener, Relay, pick
from hub.live.settings import LiveHubSettings, load
from hub.live.signatures import Nonces, audiohook_problem, twilio_signature, twilio_valid
from kiosk.bell import Bell
from kiosk.config import BellConfig, parse_config
from kiosk.errors import ConfigError
from kiosk.lamp import Look, look_for
from kiosk.live import ulaw
from kiosk.live.hub_client import hub_ws_url
from kiosk.live.jitter import FRAME, JitterBuffer, LiveSamples
from tests.g711 import ulaw_encode
from tests.live_senders import audiohook_headers
from tests.live_senders import twilio_signature as senders_twilio_signature

KEY = "api-key"
SECRET = base64.b64encode(b"0123456789abcdef").decode()


# -- signatures -----------------------------------------------------------------------------
def test_twilio_signature_matches_the_sender_and_covers_the_url() -> None:
    url = "wss://hub.example.com/live/twilio?site=lobby"
    assert twilio_signature(url, {}, "tok") == senders_twilio_signature(url, "tok")
    given = senders_twilio_signature(url, "tok")
    assert twilio_valid(url, {}, "tok", given)
    assert not twilio_valid(url + "&x=1", {}, "tok", given)
    assert not twilio_valid(url, {}, "other", given)
    assert not twilio_valid(url, {}, "", "")  # no token configured: nothing passes
    # POST parameters are appended sorted by name (Twilio's published algorithm)
    assert twilio_signature("u", {"b": "2", "a": "1"}, "t") == senders_twilio_signature(
        "ua1b2", "t"
    )


def headers(secret: str | None, **change: str) -> dict[str, str]:
    raw = audiohook_headers("hub:8765", "/live/audiohook", KEY, secret, "sess-1")
    return {**{k.lower(): v for k, v in raw.items()}, "host": "hub:8765", **change}


def problem(h: dict[str, str], secret: str = SECRET, now: float | None = None) -> str | None:
    now = dt.datetime.now().timestamp() if now is None else now
    return audiohook_problem(h, "/live/audiohook", KEY, secret, now)


def test_audiohook_replayed_signature_is_refused() -> None:
    nonces = Nonces()
    now = dt.datetime.now().timestamp()
    h = headers(SECRET)
    assert audiohook_problem(h, "/live/audiohook", KEY, SECRET, now, nonces) is None
    again = audiohook_problem(h, "/live/audiohook", KEY, SECRET, now + 1, nonces)
    assert again == "signature replayed (nonce seen before)"
    assert audiohook_problem(headers(SECRET), "/live/audiohook", KEY, SECRET, now, nonces) is None


def test_audiohook_signed_and_unsigned() -> None:
    assert problem(headers(SECRET)) is None
    assert problem(headers(None), secret="") is None  # no secret configured: the key suffices
    assert problem(headers(None)) == "missing or malformed Signature-Input/Signature"
    assert problem(headers(SECRET, **{"x-api-key": "other"})) == "bad or missing X-API-KEY"
    tampered = headers(SECRET, **{"audiohook-session-id": "sess-2"})
    assert problem(tampered) == "bad signature"
    assert problem(headers(SECRET, host="evil:1")) == "bad signature"
    assert problem(headers(base64.b64encode(b"other secret").decode())) == "bad signature"
    assert problem(headers(SECRET), now=dt.datetime.now().timestamp() + 3600) == (
        "signature expired"
    )
    h = headers(SECRET)
    del h["audiohook-correlation-id"]
    assert problem(h) == "missing audiohook-correlation-id"
    short = headers(SECRET)
    short["signature-input"] = short["signature-input"].replace(' "x-api-key"', "")
    assert problem(short) == "the signature does not cover the required components"


# -- settings -------------------------------------------------------------------------------
def test_settings_file_then_environment(tmp_path: Path) -> None:
    assert load(tmp_path, {}) == LiveHubSettings()
    (tmp_path / "live.json").write_text(
        json.dumps({"twilio_auth_token": "a", "queues": ["support"], "consent_value": "1"})
    )
    s = load(tmp_path, {"KIOSK_HUB_TWILIO_AUTH_TOKEN": "b", "KIOSK_HUB_LIVE_TAGS": "vip, de"})
    assert (s.twilio_auth_token, s.queues, s.tags, s.consent_value) == (
        "b",
        ("support",),
        ("vip", "de"),
        "1",
    )
    (tmp_path / "live.json").write_text(json.dumps({"twilio_token": "a", "queues": "x"}))
    with pytest.raises(ConfigError) as e:
        load(tmp_path, {})
    assert len(e.value.problems) == 2 and "live.json: twilio_token" in e.value.problems[0]


# -- the relay ------------------------------------------------------------------------------
class Clock:
    t = 100.0

    def __call__(self) -> float:
        return self.t


def relay(**settings: object) -> tuple[Relay, Clock]:
    clock = Clock()
    return Relay(LiveHubSettings(**settings), clock), clock  # type: ignore[arg-type]


def listener() -> Listener:
    return Listener("b1", asyncio.Queue(10))


def drain(who: Listener) -> list[Any]:
    out = []
    while not who.outbox.empty():
        out.append(who.outbox.get_nowait()[0])
    return out


def test_pick_longest_live_past_min_age_and_filters() -> None:
    r, clock = relay(queues=("support",))
    old = r.open("A", "twilio", {"consent": "yes", "queue": "support"})
    clock.t += 4
    r.open("B", "twilio", {"consent": "yes", "queue": "support"})
    r.open("C", "twilio", {"consent": "yes", "queue": "sales"})  # not an allowed queue
    r.open("D", "twilio", {"queue": "support"})  # no consent
    assert set(r.calls) == {"A", "B"}
    assert pick(r.calls.values(), clock.t, 5.0) is None  # A is 4 s old
    clock.t += 1
    assert pick(r.calls.values(), clock.t, 5.0) is None  # A sent nothing for 2 s: stalled
    r.frame(old, 0, 0, bytes(160))
    assert pick(r.calls.values(), clock.t, 5.0) is old
    assert pick(r.calls.values(), clock.t, 0.0) is old  # the longest live, not the newest
    assert r.stats["calls_filtered"] == 1 and r.stats["calls_without_consent"] == 1


def test_tags_restrict_calls() -> None:
    r, _ = relay(tags=("vip",))
    assert not r.open("A", "audiohook", {"consent": "yes", "tags": "new,de"}).relayed
    assert r.open("B", "audiohook", {"consent": "yes", "tags": "de, vip"}).relayed


def test_fan_out_backlog_legs_and_end() -> None:
    r, _ = relay(backlog_ms=60)
    booth, other = listener(), listener()
    r.join(booth)
    r.join(other)
    call = r.open("A", "twilio", {"consent": "yes"})
    for seq in range(5):
        r.frame(call, 0, seq, bytes([seq]) * 160)
        r.frame(call, 1, seq, bytes([100 + seq]) * 160)
    drain(booth)
    r.listen(booth, 7, "customer", 0, 40)
    sent = drain(booth)
    assert json.loads(str(sent[0]))["type"] == "listening"
    assert [HEADER.unpack(m[:7]) for m in sent[1:]] == [(7, 0, 3), (7, 0, 4)]
    r.frame(call, 1, 5, b"\x00" * 160)  # the agent's leg: not asked for
    r.frame(call, 0, 5, b"\x05" * 160)
    assert drain(booth) == [HEADER.pack(7, 0, 5) + b"\x05" * 160]
    assert drain(other)[-1] == r.presence()  # presence only: not listening
    silent = r.open("Z", "twilio", {})
    r.frame(silent, 0, 0, b"\x00" * 160)
    assert r.stats["frames_dropped_without_consent"] == 1
    r.close(call, "stop")
    out = [json.loads(str(m)) for m in drain(booth)]
    assert [m["type"] for m in out] == ["presence", "ended"] and out[0]["calls"] == []
    r.listen(booth, 8, "both", 0, 40)
    assert json.loads(str(drain(booth)[0])) == {"type": "none", "n": 8}


def test_a_slow_booth_loses_frames_without_blocking() -> None:
    r, _ = relay()
    booth = Listener("b1", asyncio.Queue(3))
    call = r.open("A", "twilio", {"consent": "yes"})
    r.listen(booth, 1, "both", 0, 20)
    for seq in range(10):
        r.frame(call, 0, seq, b"\x00" * 160)
    assert booth.dropped == 8 and booth.outbox.qsize() == 3


# -- the booth ------------------------------------------------------------------------------
def test_ulaw_table_matches_g711() -> None:
    pcm = np.arange(-32768, 32767, 7, dtype=np.int16)
    codes = ulaw_encode(pcm)
    decoded = ulaw.decode(codes.tobytes()) * 32768
    assert np.max(np.abs(decoded - pcm)) <= 1024  # μ-law's largest step
    assert np.all(np.abs(decoded - pcm) <= np.abs(pcm.astype(np.float64)) / 16 + 16)


def frame(value: float) -> np.ndarray:
    return np.full(FRAME, value, np.float32)


def test_jitter_buffer_waits_plays_in_order_and_mixes_legs() -> None:
    jb = JitterBuffer(target=3)
    jb.push(11, frame(0.1))
    jb.push(10, frame(0.2))
    assert not np.any(jb.pull())  # not full yet
    jb.push(12, frame(0.3))
    jb.push(12, frame(0.1))  # the other leg: summed
    assert [float(jb.pull()[-1]) for _ in range(3)] == pytest.approx([0.2, 0.1, 0.4])
    jb.push(11, frame(0.9))  # too late
    jb.pull()
    assert jb.stats.late == 1


def test_a_lost_frame_fades_never_a_hole() -> None:
    jb = JitterBuffer(target=2)
    for seq in (0, 1, 3):
        jb.push(seq, frame(0.5))
    out = [jb.pull() for _ in range(4)]
    lost = out[2]
    assert lost[0] == pytest.approx(0.5) and lost[-1] == pytest.approx(0.25, abs=0.01)
    assert out[3][0] == pytest.approx(0.25, abs=0.01) and out[3][-1] == pytest.approx(0.5)
    assert jb.stats.concealed == 1 and jb.stats.played == 3


def test_a_stall_fades_to_silence_then_refills() -> None:
    jb = JitterBuffer(target=2)
    jb.push(0, frame(0.5))
    jb.push(1, frame(0.5))
    jb.pull()
    jb.pull()
    fading = [float(np.max(np.abs(jb.pull()))) for _ in range(14)]
    assert fading == sorted(fading, reverse=True) and fading[0] > 0.2 and fading[-1] == 0
    jb.push(100, frame(0.3))  # the stream comes back, further on
    assert not np.any(jb.pull())
    jb.push(101, frame(0.3))
    assert float(jb.pull()[-1]) == pytest.approx(0.3)


@pytest.mark.parametrize("rate", [48000, 44100])
def test_live_samples_resample_to_the_device_rate(rate: int) -> None:
    """20 ms in, 20 ms out from the first frame: no resampler holding audio back in blocks."""
    jb = JitterBuffer(target=1)
    tone = np.sin(2 * np.pi * 440 * np.arange(8000) / 8000).astype(np.float32) * 0.5
    for i in range(20):
        jb.push(i, tone[i * FRAME : (i + 1) * FRAME])
    samples = LiveSamples(jb, rate)
    assert len(samples) > 10**15
    block = rate // 200
    out = np.concatenate([samples[i * block : (i + 1) * block] for i in range(60)])
    assert len(out) == 60 * block and jb.stats.played == 15  # 300 ms: 15 frames, not more
    steady = out[rate // 20 : rate // 4]
    spectrum = np.abs(np.fft.rfft(steady))
    assert abs(np.argmax(spectrum) * rate / len(steady) - 440) < 5
    assert np.max(np.abs(steady)) == pytest.approx(0.5, abs=0.02)


def test_hub_ws_url() -> None:
    assert hub_ws_url("https://hub.example.com/") == "wss://hub.example.com/live/booth"
    assert hub_ws_url("http://127.0.0.1:8765") == "ws://127.0.0.1:8765/live/booth"


def test_live_hub_config_keys() -> None:
    cfg = parse_config("live:\n  enabled: true\n  source: hub\n  legs: customer\n")
    assert (cfg.live.source, cfg.live.legs, cfg.live.monitor_uri) == ("hub", "customer", "")
    with pytest.raises(ConfigError, match=r"live.source: expected one of sip, hub"):
        parse_config("live:\n  source: pbx\n")


def test_live_look_only_on_the_hook() -> None:
    assert look_for(True, True, False, "ok", live_call=True) is Look.LIVE
    assert look_for(True, True, True, "ok", live_call=True) is Look.PLAYING


def test_bell_rings_at_most_once_per_min_interval() -> None:
    factory = MockFactory()
    bell = Bell(BellConfig(pin=22, quiet_hours=(), min_interval_s=600), factory)
    noon = dt.datetime(2026, 11, 30, 12, 0)
    try:
        assert bell.ring(noon, 1000.0) is True
        assert bell.ring(noon, 1599.0) is False
        assert bell.ring(noon, 1600.0) is True
        assert bell.ring(noon) is True  # without a time: the self-test's ring, always
    finally:
        bell.close()
        factory.close()
