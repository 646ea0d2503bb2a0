"""baresip's control protocol: netstring framing, generated config, event mapping (no I/O)."""

from pathlib import Path

import numpy as np
import pytest

from kiosk.config import LiveAccountConfig, LiveConfig, parse_config
from kiosk.errors import ConfigError, LiveError
from kiosk.live import conf
from kiosk.live.cues import chime
from kiosk.live.events import CallAnswered, CallAudio, CallClosed, CallIncoming, LiveStatus
from kiosk.live.link import LiveLink
from kiosk.live.netstring import Decoder, encode


def test_netstring_round_trip_in_any_chunking() -> None:
    wire = encode({"command": "dial", "params": "sip:*222@pbx", "token": "dial-1"}) + encode(
        {"event": True, "type": "CALL_CLOSED", "param": "486 Busy Here"}
    )
    assert wire.startswith(b'59:{"command":"dial",')
    for size in (1, 7, len(wire)):
        d = Decoder()
        got = [m for i in range(0, len(wire), size) for m in d.feed(wire[i : i + size])]
        assert [m.get("token", m.get("type")) for m in got] == ["dial-1", "CALL_CLOSED"]


@pytest.mark.parametrize("wire", [b"abc:{}", b"2:{}}", b"3:xyz,", b"123456789012345"])
def test_malformed_netstrings_are_errors(wire: bytes) -> None:
    with pytest.raises(LiveError):
        Decoder().feed(wire)


def test_config_binds_ctrl_tcp_to_loopback_and_plays_without_a_source() -> None:
    live = LiveConfig(
        enabled=True,
        monitor_uri="sip:*222@pbx.test",
        account=LiveAccountConfig("booth7", "s3cret", "pbx.test", "tcp"),
        codecs=("pcma", "opus", "pcmu"),
        net_interface="10.1.2.3",
        ctrl_port=4555,
        player_device="kiosk",
        jitter_ms=50,
    )
    files = conf.render(live, conf.local_address(live.net_interface))
    lines = files.config.splitlines()
    assert "ctrl_tcp_listen 127.0.0.1:4555" in lines
    assert "sip_listen 10.1.2.3:5060" in lines and "net_interface 10.1.2.3" in lines
    assert "audio_player alsa,kiosk" in lines and "audio_source aubridge,none" in lines
    assert "jitter_buffer_delay 3-12" in lines and "ringback_disabled yes" in lines
    assert [x for x in lines if x.startswith("module ")][:2] == ["module g711.so", "module opus.so"]
    assert files.accounts == (
        "<sip:booth7@pbx.test;transport=tcp>;auth_pass=s3cret;regint=600;answermode=manual;ptime=10"
        ";audio_codecs=PCMA/8000/1,opus,PCMU/8000/1\n"
    )


def test_without_registrar_the_account_does_not_register() -> None:
    live = LiveConfig(enabled=True, monitor_uri="sip:spy@10.0.0.5:5070")
    assert conf.account_line(live).startswith("<sip:booth@10.0.0.5:5070;transport=udp>;regint=0")


def test_interface_names_resolve_to_their_address() -> None:
    assert conf.local_address("lo") == "127.0.0.1"
    with pytest.raises(LiveError, match="nosuch0"):
        conf.local_address("nosuch0")


def test_files_are_private(tmp_path: Path) -> None:
    conf.write(tmp_path / "b", conf.Files("config\n", "account\n"))
    assert (tmp_path / "b" / "accounts").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("live:\n  enabled: true\n", "k.yaml:1: live.monitor_uri: required when live.enabled"),
        ('live:\n  monitor_uri: "*222"\n', "k.yaml:2: live.monitor_uri: expected a SIP URI"),
        ("live:\n  account:\n    password: a;b\n", "k.yaml:3: live.account.password: must not"),
        ("live:\n  account:\n    transport: sctp\n", "k.yaml:3: live.account.transport: expected"),
        ("live:\n  codecs: [pcmu, g729]\n", "k.yaml:2: live.codecs[1]: expected one of pcmu"),
        ("live:\n  answer_timeout: 0\n", "k.yaml:2: live.answer_timeout: expected a number"),
        ("live:\n  ctrl_port: 5061\n", "k.yaml:2: live.ctrl_port: must differ from sip_port"),
    ],
)
def test_bad_live_config_names_file_line_and_key(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(text, "k.yaml")
    assert e.value.problems[0].startswith(problem), e.value.problems


def test_continue_is_spelled_as_in_the_issue() -> None:
    assert parse_config("live:\n  continue: true\n").live.continue_ is True


def test_events_map_to_the_dial_that_caused_them(tmp_path: Path) -> None:
    posted: list[object] = []
    link = LiveLink(LiveConfig(), tmp_path, posted.append)

    def event(kind: str, call_id: str, param: str = "") -> None:
        link._handle({"event": True, "type": kind, "id": call_id, "param": param})

    event("CALL_CLOSED", "old", "Connection reset by user")  # before any dial: not ours
    link._handle({"response": True, "ok": True, "data": "", "token": "dial-1"})
    event("CALL_ESTABLISHED", "a")
    event("CALL_RTPESTAB", "a")
    event("CALL_CLOSED", "a", "Connection reset by peer")
    link._handle({"response": True, "ok": False, "data": "invalid uri\n", "token": "dial-2"})
    link._handle({"event": True, "type": "REGISTER_FAIL", "param": "408 Request Timeout"})
    assert posted == [
        CallAnswered(1),
        CallAudio(1),
        CallClosed(1, "BYE"),
        CallClosed(2, "invalid uri"),
        LiveStatus(False, "registration failed: 408 Request Timeout"),
    ]


def test_a_dial_without_baresip_fails_at_once(tmp_path: Path) -> None:
    posted: list[object] = []
    LiveLink(LiveConfig(), tmp_path, posted.append).dial(5, "sip:x@y")
    assert posted == [CallClosed(5, "baresip unavailable (not connected)")]


def test_cues_are_short_soft_and_start_and_end_silent() -> None:
    for kind in ("connecting", "call_ended"):
        cue = chime(kind, 48000)
        x = np.asarray(cue.samples)
        assert cue.kind == kind and cue.duration_s < 0.3
        assert 0.15 < np.max(np.abs(x)) < 0.25 and abs(x[0]) < 1e-6 and abs(x[-1]) < 1e-6
    rising = np.asarray(chime("connecting", 48000).samples)
    falling = np.asarray(chime("call_ended", 48000).samples)
    assert not np.allclose(rising, falling)


def test_incoming_calls_are_never_taken_for_ours(tmp_path: Path) -> None:
    posted: list[object] = []
    link = LiveLink(LiveConfig(), tmp_path, posted.append)
    link._handle({"response": True, "ok": True, "data": "", "token": "dial-1"})
    link._handle(
        {
            "event": True,
            "type": "CALL_INCOMING",
            "id": "x",
            "direction": "incoming",
            "peeruri": "sip:caller@lan",
        }
    )
    link._handle({"event": True, "type": "CALL_RTPESTAB", "id": "a", "direction": "outgoing"})
    assert posted == [CallIncoming("sip:caller@lan"), CallAudio(1)]
