"""Live calls relayed by the hub, end to end: Twilio- and AudioHook-format senders (tests/
live_senders.py) stream into the real hub process; a real booth (the headless simulator, enrolled
on that hub) lifts and plays the call into the paced PulseAudio null sink."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from websockets.exceptions import InvalidStatus

from tests.audio_rig import PulseSink, Recorder, last_nonsilent
from tests.booth_runner import HeadlessBooth, write_config
from tests.clipmaker import make_set
from tests.hubproc import HubProcess
from tests.integration.test_live import heard_score, window
from tests.live_hub_rig import (
    AUDIOHOOK_KEY,
    AUDIOHOOK_SECRET,
    CONSENT,
    TWILIO_TOKEN,
    enroll,
    enroll_into,
    live_counters,
    live_hub,
    live_hubs,
)
from tests.live_rig import at_device_rate, voice
from tests.live_senders import AudioHookClient, BoothReader, TwilioSender, twilio_signature
from tests.redisproc import RedisServer

pytestmark = pytest.mark.pulse


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    server = live_hub(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def ws(hub: HubProcess, path: str) -> str:
    return hub.url.replace("http://", "ws://") + path


def hub_booth(tmp_path: Path, hub: HubProcess, pulse: PulseSink, **live: Any) -> HeadlessBooth:
    """An enrolled booth listening to the hub relay; bell on a mock pin, no quiet hours."""
    enroll_into(hub, tmp_path / "state")
    make_set(tmp_path / "set", {"a.wav": 1.0, "b.wav": 1.0})
    overrides = {"live__enabled": "true", "live__source": "hub", "live__min_age_s": 0, **live}
    cfg = write_config(
        tmp_path, tmp_path / "set", **overrides, bell__pin=22, bell__quiet_hours="[]"
    )
    booth = HeadlessBooth(cfg, pulse.env)
    try:
        booth.wait_for("live_status")  # connected: "no live call"
    except BaseException:
        booth.quit()
        raise
    return booth


def wait_live(booth: HeadlessBooth, timeout: float = 10) -> None:
    """Until the booth says a call is there to hear (the relay's presence)."""
    deadline = time.monotonic() + timeout
    while not any(e["up"] for e in booth.named("live_status")):
        assert time.monotonic() < deadline, booth.events
        time.sleep(0.02)


def silent_runs(samples: np.ndarray, longer_than_s: float, rate: int = 48000) -> list[float]:
    """The lengths (s) of the stretches of digital silence longer than `longer_than_s`."""
    quiet = np.concatenate([[False], np.abs(samples) < 1e-4, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    lengths = (edges[1::2] - edges[::2]) / rate
    return [float(x) for x in lengths if x > longer_than_s]


def listen_once(
    booth: HeadlessBooth, pulse: PulseSink, hold_s: float
) -> tuple[Recorder, dict[str, Any], dict[str, Any]]:
    with pulse.record() as rec:
        booth.send("lift")
        start = booth.wait_for("live_start")
        booth.send(f"sleep {hold_s}", "hangup")
        hang = booth.wait_for("hangup")
        booth.wait_for("live_end")
        booth.send("sleep 0.4")
        rec.sync(0.4)
    return rec, start, hang


def test_a_twilio_call_is_heard_and_rings_the_bell(
    tmp_path: Path, hub: HubProcess, pulse: PulseSink
) -> None:
    customer, agent = voice(8.0, seed=7), voice(8.0, seed=8)
    booth = hub_booth(tmp_path, hub, pulse, live__legs="customer")
    sender = TwilioSender(ws(hub, "/live/twilio"), TWILIO_TOKEN, customer, agent, CONSENT)
    try:
        sender.start()
        wait_live(booth)
        bell = booth.wait_for("bell")
        rec, start, hang = listen_once(booth, pulse, 2.0)
        second = TwilioSender(ws(hub, "/live/twilio"), TWILIO_TOKEN, customer, params=CONSENT)
        second.start()
        second_bell = booth.wait_for("bell", 2)  # within bell.min_interval_s: no ring
        second.halt()
        second.finish()
    finally:
        sender.halt()
        assert booth.quit() == 0
    sender.finish()
    assert bell["rang"] is True and second_bell["rang"] is False
    assert start["source"] == "twilio" and start["call_id"] == sender.call_sid
    assert "+1" not in str(booth.events)  # no caller number anywhere
    end = booth.named("live_end")[0]
    assert end["reason"] == "hangup" and end["call_id"] == sender.call_sid
    heard = window(rec, start["t"] + 0.3, hang["t"])
    assert heard_score(heard, at_device_rate(customer)) > 0.8  # the customer's leg only
    after = window(rec, hang["t"] + 0.1, hang["t"] + 0.4)
    assert len(after) > 10000 and np.max(np.abs(after)) < 1e-4
    assert not booth.named("clip_start")


@pytest.mark.parametrize("signed", [True, False])
def test_an_audiohook_session_is_heard(tmp_path: Path, pulse: PulseSink, signed: bool) -> None:
    customer = voice(6.0, seed=11)
    hub = live_hub(tmp_path, secret=signed)
    booth: HeadlessBooth | None = None
    client = AudioHookClient(
        ws(hub, "/live/audiohook"),
        AUDIOHOOK_KEY,
        customer,
        config=CONSENT,
        client_secret=AUDIOHOOK_SECRET if signed else None,
        pause_at_s=4.0,
    )
    try:
        booth = hub_booth(tmp_path, hub, pulse)
        client.start()
        wait_live(booth)
        rec, start, hang = listen_once(booth, pulse, 2.0)
        client.finish()
    finally:
        client.halt()
        if booth is not None:
            assert booth.quit() == 0
        hub.stop()
    assert [m["type"] for m in client.received] == ["opened", "pong", "closed"]
    assert "+1555" not in str(booth.events)  # the participant's ani never reaches a booth
    assert start["source"] == "audiohook" and start["call_id"] == client.conversation_id
    heard = window(rec, start["t"] + 0.3, hang["t"])
    assert heard_score(heard, at_device_rate(customer)) > 0.8


def test_without_consent_the_audio_is_dropped_and_clips_play(
    tmp_path: Path, hub: HubProcess, pulse: PulseSink
) -> None:
    customer = voice(5.0, seed=5)
    booth = hub_booth(tmp_path, hub, pulse)
    sender = TwilioSender(ws(hub, "/live/twilio"), TWILIO_TOKEN, customer, params={"x": "1"})
    try:
        sender.start()
        sender.started.wait(5)
        time.sleep(0.5)
        with pulse.record() as rec:
            booth.send("lift")
            clip = booth.wait_for("clip_start")
            booth.send("sleep 1", "hangup")
            booth.wait_for("hangup")
            rec.sync(0.1)
    finally:
        sender.halt()
        assert booth.quit() == 0
    sender.finish()
    assert not booth.named("live_start") and not booth.named("bell")
    assert not any(e["up"] for e in booth.named("live_status"))
    counters = live_counters(hub)
    assert counters["calls_without_consent"] == 1
    assert counters["frames_dropped_without_consent"] > 10
    heard = window(rec, clip["t"], clip["t"] + 0.9)
    assert len(heard) > 36000
    looped = at_device_rate(customer)
    assert heard_score(heard, looped) < 0.3  # the clip, not the call


def test_a_stalled_stream_fades_then_falls_back_to_clips(
    tmp_path: Path, hub: HubProcess, pulse: PulseSink
) -> None:
    customer = voice(6.0, seed=13)
    booth = hub_booth(tmp_path, hub, pulse, live__rtp_timeout_s=1)
    sender = TwilioSender(
        ws(hub, "/live/twilio"), TWILIO_TOKEN, customer, params=CONSENT, stall_after_s=2.0
    )
    try:
        sender.start()
        wait_live(booth)
        with pulse.record() as rec:
            booth.send("lift")
            start = booth.wait_for("live_start")
            end = booth.wait_for("live_end")
            booth.wait_for("clip_start")
            booth.send("hangup")
            booth.wait_for("hangup")
            rec.sync(0.1)
    finally:
        sender.halt()
        assert booth.quit() == 0
    sender.finish()
    assert end["reason"] == "stalled" and end["listened_ms"] > 1000
    # Before the "call ended" cue: the voice, then a fade when the frames stop, not a cut.
    heard = window(rec, start["t"], end["t"] - 0.05)
    last = last_nonsilent(heard)
    assert last is not None and last < len(heard) - 0.5 * 48000  # then silence until live_end
    speech = rms(heard[last - 48000 : last - 24000])
    tail = rms(heard[last - round(0.06 * 48000) : last])
    assert 0 < tail < 0.3 * speech, (tail, speech)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def test_the_next_live_call_follows_then_clips_when_the_relay_drops(
    tmp_path: Path, hub: HubProcess, pulse: PulseSink
) -> None:
    booth = hub_booth(tmp_path, hub, pulse, **{"live__continue": "true"})
    first = TwilioSender(ws(hub, "/live/twilio"), TWILIO_TOKEN, voice(3.0, 1), params=CONSENT)
    second = TwilioSender(ws(hub, "/live/twilio"), TWILIO_TOKEN, voice(20.0, 2), params=CONSENT)
    try:
        first.start()
        first.started.wait(5)
        second.start()
        wait_live(booth)
        booth.send("lift")
        booth.wait_for("live_start", 2, timeout=20)
        hub.stop()  # the relay drops mid-call
        dropped = booth.wait_for("live_end", 2)
        booth.wait_for("clip_start")
        booth.send("hangup")
        booth.wait_for("hangup")
    finally:
        first.halt()
        second.halt()
        assert booth.quit() == 0
    starts, ends = booth.named("live_start"), booth.named("live_end")
    assert [s["call_id"] for s in starts] == [first.call_sid, second.call_sid]
    assert ends[0]["reason"] == "call ended" and dropped["reason"] == "relay lost"


def test_loss_and_jitter_keep_playback_continuous(
    tmp_path: Path, hub: HubProcess, pulse: PulseSink
) -> None:
    customer = voice(7.0, seed=17)
    # A deeper output buffer than the default: this test is about the network's loss and
    # jitter, not about a loaded test machine running the audio callback late.
    booth = hub_booth(tmp_path, hub, pulse, live__legs="customer", audio__latency_ms=60)
    sender = TwilioSender(
        ws(hub, "/live/twilio"), TWILIO_TOKEN, customer, params=CONSENT, loss=0.05, jitter_ms=40
    )
    try:
        sender.start()
        wait_live(booth)
        rec, start, hang = listen_once(booth, pulse, 3.0)
    finally:
        sender.halt()
        assert booth.quit() == 0
    sender.finish()
    heard = window(rec, start["t"] + 0.3, hang["t"])
    # A lost frame fades instead of leaving a hole; a late audio callback on a loaded machine
    # (an output underrun) may still leave one or two.
    assert len(silent_runs(heard, 0.01)) <= 2, silent_runs(
        heard, 0.01
    )  # concealment: a lost frame fades, never a gap
    assert heard_score(heard, at_device_rate(customer)) > 0.6


def test_refusals(tmp_path: Path, hub: HubProcess) -> None:
    """Bad or missing signatures and keys, and a booth without a credential: HTTP 403."""
    url = ws(hub, "/live/twilio")
    quiet = np.zeros(800)
    cases: list[Any] = [
        TwilioSender(url, TWILIO_TOKEN, quiet, signature=twilio_signature(url, "wrong")),
        TwilioSender(url, TWILIO_TOKEN, quiet, signature=""),
        TwilioSender(
            url + "?x=1", TWILIO_TOKEN, quiet, signature=twilio_signature(url, TWILIO_TOKEN)
        ),
        AudioHookClient(ws(hub, "/live/audiohook"), "wrong-key", quiet),
        AudioHookClient(ws(hub, "/live/audiohook"), AUDIOHOOK_KEY, quiet),  # unsigned
        AudioHookClient(ws(hub, "/live/audiohook"), AUDIOHOOK_KEY, quiet, client_secret="d3Jvbmc="),
    ]
    for sender in cases:
        with pytest.raises(InvalidStatus) as refused:
            sender.connect()
        assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        BoothReader(hub.url, "not-a-credential").open()
    counters = live_counters(hub)
    assert counters["refused_twilio"] == 3 and counters["refused_audiohook"] == 3
    assert counters["refused_booth"] == 1


def test_the_relay_forwards_the_frames_it_took(tmp_path: Path, hub: HubProcess) -> None:
    """Byte for byte, in order, from the sender to a booth connection, with the backlog first;
    the longest-live call is the one picked."""
    me = enroll(hub)
    reader = BoothReader(hub.url, me.credential).open()
    first = TwilioSender(ws(hub, "/live/twilio"), TWILIO_TOKEN, voice(3.0, 1), params=CONSENT)
    second = TwilioSender(ws(hub, "/live/twilio"), TWILIO_TOKEN, voice(3.0, 2), params=CONSENT)
    try:
        first.start()
        first.started.wait(5)
        second.start()
        reader.wait_for("presence", where=lambda m: len(m["calls"]) == 2)
        time.sleep(0.5)
        reader.send(type="listen", n=1, legs="customer", min_age_s=0, prefill_ms=100)
        listening = reader.wait_for("listening")
        admin = {"Authorization": f"Bearer {hub.token}"}
        metrics = requests.get(f"{hub.url}/metrics", headers=admin, timeout=10).text
        reader.wait_for("ended", timeout=10)
        first.finish()
        second.finish()
    finally:
        reader.close()
    assert listening["call"] == first.call_sid
    assert 'live_calls{source="twilio"} 2' in metrics
    assert "live_booths_connected 1" in metrics and "live_booths_listening 1" in metrics
    seqs = [seq for _, _, seq, _ in reader.frames]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) and seqs[-1] == 149
    assert all(leg == 0 for _, leg, _, _ in reader.frames)
    got = b"".join(p for *_, p in reader.frames)
    assert got == first.customer[seqs[0] * 160 :]


CALL_S = 8.0  # the shared call outlives a late worker's start (a hub process: 1-3 s)


def test_two_workers_share_calls_through_redis(tmp_path: Path) -> None:
    """A stream entering one hub worker reaches a booth connected to the other, byte for byte;
    its end too. A worker started later learns the calls already live."""
    with RedisServer(tmp_path / "redis") as redis:
        first, second = live_hubs(tmp_path, 2, KIOSK_HUB_REDIS_URL=redis.url)
        late: HubProcess | None = None
        try:
            reader = BoothReader(second.url, enroll(first).credential).open()
            sender = TwilioSender(
                ws(first, "/live/twilio"), TWILIO_TOKEN, voice(CALL_S, 4), params=CONSENT
            )
            sender.start()
            presence = reader.wait_for("presence", where=lambda m: m["calls"])
            time.sleep(0.5)
            reader.send(type="listen", n=3, legs="customer", min_age_s=0.3, prefill_ms=60)
            listening = reader.wait_for("listening")
            late = HubProcess(first.data, env=dict(first.env)).start()
            late_reader = BoothReader(late.url, enroll(first, "b2").credential).open()
            late_presence = late_reader.wait_for("presence", where=lambda m: m["calls"])
            ended = reader.wait_for("ended", timeout=CALL_S + 5)
            sender.finish()
            late_reader.close()
            reader.close()
        finally:
            for hub in (first, second, late):
                if hub is not None:
                    hub.stop()
    assert presence["calls"][0]["id"] == sender.call_sid == listening["call"] == ended["call"]
    assert late_presence["calls"][0]["id"] == sender.call_sid
    assert late_presence["calls"][0]["age_s"] > 0.5
    seqs = [seq for _, _, seq, _ in reader.frames]
    assert seqs == list(range(seqs[0], round(CALL_S * 50))) and seqs[0] > 10
    assert b"".join(p for *_, p in reader.frames) == sender.customer[seqs[0] * 160 :]


def test_the_live_dashboard(tmp_path: Path, hub: HubProcess) -> None:
    """Calls live now, booths listening, minutes listened by source, behind the admin login."""
    me = enroll(hub)
    now = time.time()
    records = [
        {"event": "live_end", "at": now, "t": 1.0, "listened_ms": 120_000, "source": "twilio"},
        {"event": "live_end", "at": now, "t": 2.0, "listened_ms": 30_000, "source": "audiohook"},
        {"event": "live_end", "at": now, "t": 3.0, "listened_ms": 60_000, "uri": "sip:x@y"},
    ]
    booth = {"Authorization": f"Bearer {me.credential}"}
    body = {"events": [{"id": f"0000000{i}", "record": r} for i, r in enumerate(records)]}
    assert requests.post(f"{hub.url}/api/v1/events", json=body, headers=booth, timeout=10).ok
    web = requests.Session()
    assert (
        requests.get(f"{hub.url}/dashboard/live", timeout=10, allow_redirects=False).status_code
        == 303
    )
    web.post(f"{hub.url}/login", data={"token": hub.token}, timeout=10)
    reader = BoothReader(hub.url, me.credential).open()
    sender = TwilioSender(ws(hub, "/live/twilio"), TWILIO_TOKEN, voice(3.0, 6), params=CONSENT)
    try:
        sender.start()
        reader.wait_for("presence", where=lambda m: m["calls"])
        reader.send(type="listen", n=1, legs="both", min_age_s=0, prefill_ms=20)
        reader.wait_for("listening")
        page = web.get(f"{hub.url}/dashboard/live", timeout=10)
        sender.finish()
    finally:
        sender.halt()
        reader.close()
    assert page.status_code == 200
    html = page.text
    assert sender.call_sid in html and "1 live now" in html and "1 listening" in html
    assert '<td>twilio</td><td class="num">2.0</td>' in html
    assert '<td>audiohook</td><td class="num">0.5</td>' in html
    assert '<td>sip</td><td class="num">1.0</td>' in html


def test_a_booth_on_one_worker_hears_a_call_taken_by_another(
    tmp_path: Path, pulse: PulseSink
) -> None:
    customer = voice(8.0, seed=23)
    with RedisServer(tmp_path / "redis") as redis:
        intake, booths = live_hubs(tmp_path, 2, KIOSK_HUB_REDIS_URL=redis.url)
        booth: HeadlessBooth | None = None
        sender = TwilioSender(ws(intake, "/live/twilio"), TWILIO_TOKEN, customer, params=CONSENT)
        try:
            booth = hub_booth(tmp_path, booths, pulse, live__legs="customer")
            sender.start()
            wait_live(booth)
            rec, start, hang = listen_once(booth, pulse, 2.0)
        finally:
            sender.halt()
            if booth is not None:
                assert booth.quit() == 0
            intake.stop()
            booths.stop()
    assert start["call_id"] == sender.call_sid
    heard = window(rec, start["t"] + 0.3, hang["t"])
    assert heard_score(heard, at_device_rate(customer)) > 0.8


def test_a_revoked_booth_is_cut_off(tmp_path: Path) -> None:
    hub = live_hub(tmp_path, file={"revoked_check_s": 0.2, "consent_value": "granted"})
    try:
        me = enroll(hub)
        reader = BoothReader(hub.url, me.credential).open()
        reader.wait_for("presence")
        admin = {"Authorization": f"Bearer {hub.token}"}
        revoke = f"{hub.url}/api/v1/booths/{me.booth_id}/revoke"
        assert requests.post(revoke, headers=admin, timeout=10).ok
        reader.join(10)
        assert not reader.is_alive()  # the hub closed the connection
        reader.close()
        with pytest.raises(InvalidStatus):
            BoothReader(hub.url, me.credential).open()
        # live.json's consent value, not the default "yes"
        sender = TwilioSender(ws(hub, "/live/twilio"), TWILIO_TOKEN, np.zeros(4000), params=CONSENT)
        sender.start()
        sender.finish()
        assert live_counters(hub)["calls_without_consent"] == 1
    finally:
        hub.stop()
