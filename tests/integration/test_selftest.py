"""`kiosk selftest` against real parts: PortAudio into the ALSA file capture, nginx over http
and https (a self-signed certificate made here with openssl), and a closed port."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from kiosk.audio.decode import decode
from kiosk.config import Config, SyncConfig
from kiosk.selftest.report import Item, Result
from kiosk.selftest.system import check_hub, hub_probe
from tests.audio_rig import AlsaFileCapture, best_lag, first_nonsilent
from tests.nginx import Nginx, free_port
from tests.nginx import self_signed as make_cert

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = ROOT / "kiosk" / "data" / "prompts"
RATE = 48000


def selftest(
    folder: Path, env: dict[str, str], args: list[str], answers: str = "", **audio: str
) -> subprocess.CompletedProcess[str]:
    state = folder / "state"
    state.mkdir(exist_ok=True)
    lines = [f"state_dir: {state}", "audio:", *(f"  {k}: {v}" for k, v in audio.items())]
    config = folder / "kiosk.yaml"
    config.write_text("\n".join(lines) + "\n")
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "selftest", "--config", str(config), *args],
        input=answers,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )


def test_tone_and_sentence_reach_the_device_and_the_technician_answers(
    tmp_path: Path, file_capture: AlsaFileCapture
) -> None:
    # gpiozero's mock pins in the child: nobody lifts, so the hook step times out.
    env = {**file_capture.env, "GPIOZERO_PIN_FACTORY": "mock"}
    done = selftest(tmp_path, env, ["--hook-timeout", "0.2"], answers="y\n", device="default")
    out = done.stdout
    assert done.returncode == 1, done.stderr
    assert "FAIL  hook: no change on GPIO17" in out and "fix: check the wiring" in out
    assert "PASS  audio_card" in out and "PASS  audio_playback" in out
    assert "PASS  audio_heard" in out and "[y/n]" in out
    heard = file_capture.samples()
    start = first_nonsilent(heard)
    assert start is not None
    tone = heard[start + RATE // 20 : start + RATE - RATE // 20]  # inside the 10 ms ramps
    spectrum = np.abs(np.fft.rfft(tone * np.hanning(len(tone))))
    freq = np.argmax(spectrum) * RATE / len(tone)
    assert abs(freq - 1000) < 3
    peak_db = 20 * np.log10(np.sqrt(2) * np.sqrt(np.mean(tone.astype(np.float64) ** 2)))
    assert -13.5 < peak_db < -10.5  # the -12 dBFS tone at gain 0 dB
    sentence = decode(PROMPTS / "self-test.ogg", RATE, 30)
    lag, score = best_lag(heard, sentence)
    assert score > 0.9 and lag > start + RATE  # after the tone


def test_card_by_name_lists_the_devices_present(
    tmp_path: Path, file_capture: AlsaFileCapture
) -> None:
    done = selftest(
        tmp_path, file_capture.env, ["--json", "--unattended"], device='"USB Audio Device"'
    )
    assert done.returncode == 1
    items = {item["name"]: item for item in json.loads(done.stdout)}
    assert list(items) == [
        "audio_card",
        "hook",
        "dial",
        "audio_playback",
        "audio_heard",
        "status_led",
        "bell",
        "hub",
        "hub_tls",
        "clock",
        "disk",
        "state_dir",
        "sd_card",
    ]
    card = items["audio_card"]
    assert card["result"] == "FAIL" and "'USB Audio Device'" in card["detail"]
    assert "present: 'default'" in card["detail"] and card["fix"]
    assert items["hook"]["result"] == items["audio_heard"]["result"] == "SKIP"
    assert items["hub"]["result"] == items["clock"]["result"] == "SKIP"  # no hub configured
    assert items["state_dir"]["result"] == "PASS"
    assert file_capture.samples().size == 0  # nothing played


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[Nginx]:
    (tmp_path / "www" / "metadata").mkdir(parents=True)
    (tmp_path / "www" / "metadata" / "timestamp.json").write_text("{}")
    with Nginx(tmp_path / "www", tmp_path / "plain") as server:
        yield server


@pytest.fixture
def self_signed(tmp_path: Path) -> Iterator[tuple[Nginx, Path]]:
    cert, key = make_cert(tmp_path)
    (tmp_path / "www").mkdir(exist_ok=True)
    (tmp_path / "www" / "healthz").write_text('{"ok": true}')  # an enrolled hub's probe
    with Nginx(tmp_path / "www", tmp_path / "tls", tls=(cert, key)) as server:
        yield server, cert


def utc_now(offset_s: float = 0) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset_s)


def results(items: list[Item]) -> dict[str, Result]:
    return {item.name: item.result for item in items}


def test_plain_http_hub_and_the_clock(plain: Nginx) -> None:
    probe = hub_probe(Config(sync=SyncConfig(url=plain.url + "/")))
    items = check_hub(probe, 5, 60, utc_now)
    assert results(items) == {"hub": Result.PASS, "hub_tls": Result.SKIP, "clock": Result.PASS}
    wrong = check_hub(plain.url + "/nothing-here", 5, 60, utc_now)[0]
    assert wrong.result is Result.FAIL and "HTTP 404" in wrong.detail and "sync.url" in wrong.fix
    late = check_hub(probe, 5, 60, lambda: utc_now(-300))
    clock = late[2]
    assert clock.result is Result.FAIL and "behind" in clock.detail
    assert "timedatectl set-ntp true" in clock.fix


def test_tls_failure_is_named_and_a_trusted_certificate_passes(
    tmp_path: Path, self_signed: tuple[Nginx, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, cert = self_signed
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "fleet.json").write_text(json.dumps({"hub": server.url}))
    probe = hub_probe(Config(state_dir=str(tmp_path / "state")))
    items = check_hub(probe, 5, 60, utc_now)
    assert results(items) == {"hub": Result.PASS, "hub_tls": Result.FAIL, "clock": Result.SKIP}
    assert "TLS" in items[1].detail and "certificate verify failed" in items[1].detail
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # the booth trusts this CA
    trusted = check_hub(probe, 5, 60, utc_now)
    assert results(trusted) == {"hub": Result.PASS, "hub_tls": Result.PASS, "clock": Result.PASS}


def test_unreachable_hub() -> None:
    items = check_hub(f"http://127.0.0.1:{free_port()}/repo", 2, 60, utc_now)
    assert results(items) == {"hub": Result.FAIL, "hub_tls": Result.SKIP, "clock": Result.SKIP}
    assert "cannot reach" in items[0].detail and "network" in items[0].fix
