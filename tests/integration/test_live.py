"""Live calls end to end: the booth's baresip against sipp as the PBX and a second baresip,
all on 127.0.0.1, playing into the paced PulseAudio null sink (the receiver)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

from tests.audio_rig import PulseSink, Recorder, best_lag
from tests.booth_runner import HeadlessBooth, write_config
from tests.clipmaker import make_set
from tests.live_rig import (
    BaresipPeer,
    Sipp,
    at_device_rate,
    free_port,
    live_overrides,
    sip_port,
    voice,
    write_g711,
)

pytestmark = pytest.mark.pulse
VOICE_S = 3.0


def window(rec: Recorder, t0: float, t1: float) -> np.ndarray:
    """Recorded samples whose play time lies in [t0, t1] (monotonic seconds)."""
    samples = rec.samples()
    idx = [i for i in range(0, len(samples), 240) if t0 <= rec.time_of_sample(i) <= t1]
    return samples[idx[0] : idx[-1] + 240] if idx else samples[:0]


def heard_score(heard: np.ndarray, sent: np.ndarray) -> float:
    """How well 0.5 s of what the receiver got matches what the peer sent (looped)."""
    assert len(heard) > 30000, f"only {len(heard)} samples heard"
    needle = heard[len(heard) // 2 - 12000 : len(heard) // 2 + 12000]
    _, score = best_lag(np.concatenate([sent, sent]), needle)
    return score


def booth_for(tmp_path: Path, pulse: PulseSink, uri: str, **extra: object) -> HeadlessBooth:
    make_set(tmp_path / "set", {"a.wav": 1.0, "b.wav": 1.0})
    cfg = write_config(tmp_path, tmp_path / "set", **live_overrides(uri, **extra))
    booth = HeadlessBooth(cfg, pulse.env)
    try:
        status = booth.wait_for("live_status")
        up = status["up"] is True or "registrar" in str(extra.get("account"))
        assert up, f"{status}\n{booth.stderr[-3000:]}"
    except BaseException:
        booth.quit()
        raise
    return booth


@pytest.fixture
def sent(tmp_path: Path) -> np.ndarray:
    samples = voice(VOICE_S)
    write_g711(tmp_path, samples)
    return at_device_rate(samples)


@pytest.mark.parametrize("scenario", ["uas_pcmu.xml", "uas_pcma.xml", "uas_401.xml", "uas_407.xml"])
def test_live_call_plays_what_the_pbx_sends(
    tmp_path: Path, pulse: PulseSink, sent: np.ndarray, scenario: str
) -> None:
    port = free_port()
    booth = booth_for(
        tmp_path, pulse, f"sip:spy@127.0.0.1:{port}", account="{user: booth, password: secret}"
    )
    try:
        with Sipp(scenario, tmp_path, port) as sipp, pulse.record() as rec:
            booth.send("lift")
            start = booth.wait_for("live_start")
            booth.send("sleep 1.5", "hangup")
            hang = booth.wait_for("hangup")
            end = booth.wait_for("live_end")
            booth.send("sleep 0.4")
            rec.sync(0.4)
            assert sipp.wait() == 0, sipp.errors()  # it got our BYE
    finally:
        assert booth.quit() == 0
    assert end["reason"] == "hangup" and end["listened_ms"] >= 1490  # the hang-up came 1.5 s later
    assert heard_score(window(rec, start["t"] + 0.3, hang["t"]), sent) > 0.8
    # Silence after hang-up (how soon is bench/live.py's figure; baresip's ALSA buffer drains).
    after = window(rec, hang["t"] + 0.15, hang["t"] + 0.4)
    assert len(after) > 10000 and np.max(np.abs(after)) < 1e-4
    assert not booth.named("clip_start")


FAILURES = [
    ("uas_486.xml", "486 Busy Here"),
    ("uas_404.xml", "404 Not Found"),
    ("uas_480.xml", "480 Temporarily Unavailable"),
    ("uas_503.xml", "503 Service Unavailable"),
    ("uas_401.xml", "403 Forbidden"),  # wrong password: the PBX refuses the credentials
    ("uas_ring.xml", "no answer"),
    ("uas_no_rtp.xml", "no RTP"),
]


def test_every_failure_falls_back_to_clips(tmp_path: Path, pulse: PulseSink) -> None:
    write_g711(tmp_path, voice(1.0))
    port = free_port()
    booth = booth_for(
        tmp_path, pulse, f"sip:spy@127.0.0.1:{port}", account="{user: booth, password: wrong}"
    )
    try:
        for n, (scenario, _) in enumerate(FAILURES, 1):
            with Sipp(scenario, tmp_path, port) as sipp:
                booth.send("lift")
                booth.wait_for("live_end", n)
                booth.wait_for("clip_start", n)
                booth.send("hangup")
                booth.wait_for("hangup", n)
                assert sipp.wait() == 0, f"{scenario}: {sipp.errors()}"
    finally:
        assert booth.quit() == 0
    assert [e["reason"] for e in booth.named("live_end")] == [r for _, r in FAILURES]
    assert all(e["listened_ms"] == 0 for e in booth.named("live_end"))
    assert not booth.named("live_start")


def test_far_end_hangs_up_then_the_next_live_call_then_clips(
    tmp_path: Path, pulse: PulseSink
) -> None:
    write_g711(tmp_path, voice(1.0))
    port = free_port()
    booth = booth_for(tmp_path, pulse, f"sip:spy@127.0.0.1:{port}", **{"continue": "true"})
    try:
        with Sipp("uas_bye.xml", tmp_path, port, 30, "-m", "2") as sipp:
            booth.send("lift")
            booth.wait_for("clip_start", timeout=20)
            booth.send("hangup")
            booth.wait_for("hangup")
            assert sipp.wait() == 0, sipp.errors()
    finally:
        assert booth.quit() == 0
    ends = booth.named("live_end")
    assert len(booth.named("live_start")) == 2
    assert [e["reason"] for e in ends[:2]] == ["BYE", "BYE"]
    assert ends[2]["reason"] != "BYE"  # sipp has gone: the third dial fails, clips follow


def test_a_baresip_peer_is_heard_at_the_receiver(tmp_path: Path, pulse: PulseSink) -> None:
    samples = voice(4.0, seed=11)
    with BaresipPeer(tmp_path, samples, sip_port()) as peer:
        booth = booth_for(tmp_path, pulse, peer.uri)
        try:
            with pulse.record() as rec:
                booth.send("lift")
                start = booth.wait_for("live_start")
                booth.send("sleep 2", "hangup")
                hang = booth.wait_for("hangup")
                rec.sync(0.1)
        finally:
            assert booth.quit() == 0
    assert heard_score(window(rec, start["t"] + 0.3, hang["t"]), at_device_rate(samples)) > 0.8


def _baresip_pid(booth: HeadlessBooth) -> int:
    for task in Path(f"/proc/{booth.proc.pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            if any(arg.endswith(b"baresip") for arg in cmdline):
                return int(child)
    raise AssertionError("no baresip child")


def test_baresip_is_restarted_and_a_down_registrar_means_clips(
    tmp_path: Path, pulse: PulseSink
) -> None:
    write_g711(tmp_path, voice(1.0))
    port = free_port()
    booth = booth_for(tmp_path, pulse, f"sip:spy@127.0.0.1:{port}")
    try:
        os.kill(_baresip_pid(booth), signal.SIGKILL)
        down = booth.wait_for("live_status", 2)
        booth.send("lift")
        booth.wait_for("clip_start")  # baresip is down: clips, no dial
        booth.send("hangup")
        booth.wait_for("live_status", 3)
        with Sipp("uas_pcmu.xml", tmp_path, port):
            booth.send("lift")
            booth.wait_for("live_start")
            booth.send("hangup")
            booth.wait_for("live_end")
    finally:
        assert booth.quit() == 0
    assert down["up"] is False and "baresip exited" in down["reason"]
    assert booth.named("live_status")[2]["up"] is True
    assert len(booth.named("live_end")) == 1


def test_incoming_calls_are_refused(tmp_path: Path, pulse: PulseSink) -> None:
    booth_cfg = live_overrides("sip:spy@127.0.0.1:9")
    make_set(tmp_path / "set", {"a.wav": 1.0})
    booth = HeadlessBooth(write_config(tmp_path, tmp_path / "set", **booth_cfg), pulse.env)
    try:
        booth.wait_for("live_status")
        target = f"127.0.0.1:{booth_cfg['live__sip_port']}"
        with Sipp("uac_call_booth.xml", tmp_path, free_port(), 20, "-s", "booth", target) as sipp:
            assert sipp.wait() == 0, sipp.errors()  # 486, never answered
    finally:
        assert booth.quit() == 0
    assert not booth.named("live_start") and not booth.named("live_end")
    assert "refusing an incoming call from sip:caller@127.0.0.1" in booth.stderr


def test_registrar_down_plays_clips_without_dialing(tmp_path: Path, pulse: PulseSink) -> None:
    registrar = f"127.0.0.1:{free_port()}"  # nobody listens
    booth = booth_for(
        tmp_path,
        pulse,
        f"sip:spy@{registrar}",
        account=f"{{user: booth, password: secret, registrar: '{registrar}'}}",
    )
    try:
        booth.send("lift")
        booth.wait_for("clip_start")
        booth.send("hangup")
        booth.wait_for("hangup")
    finally:
        assert booth.quit() == 0
    assert booth.named("live_status")[0]["reason"] == f"registering with {registrar}"
    assert not booth.named("live_end")
