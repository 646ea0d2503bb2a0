"""The first run anywhere: no sound card, no display. The booth still does the whole demo."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import soundfile as sf

from tests.audio_rig import AlsaFileCapture, PulseSink, best_lag
from tests.booth_runner import KIOSK, HeadlessBooth, write_config
from tests.clipmaker import make_set

MISSING = "no-such-card"


def test_without_a_sound_card_the_simulator_plays_into_a_virtual_receiver(
    tmp_path: Path,
) -> None:
    clips = make_set(tmp_path / "set", {"a.wav": 2.0, "b.wav": 2.0})
    cfg = write_config(tmp_path, tmp_path / "set", audio__device=MISSING)
    booth = HeadlessBooth(cfg, {})
    try:
        booth.send("lift")
        start = booth.wait_for("clip_start")
        booth.send("sleep 1.5", "hangup")
        booth.wait_for("hangup")
        booth.send("sleep 0.3")
    finally:
        assert booth.quit() == 0, booth.stderr
    said = [line for line in booth.stderr.splitlines() if "virtual receiver" in line]
    wav = tmp_path / "state" / "receiver.wav"
    assert len(said) == 1 and MISSING in said[0] and str(wav) in said[0], booth.stderr
    recorded, rate = sf.read(wav, dtype="float32")
    assert rate == 48000
    _, score = best_lag(recorded, clips[start["clip"]][:24000])
    assert score > 0.9, f"{start['clip']} is not in {wav} (score {score:.2f})"
    assert not list((tmp_path / "state" / "receiver").iterdir())  # the daemon's folder is gone


def test_without_a_sound_card_the_booth_still_takes_lifts_and_quits(
    tmp_path: Path, file_capture: AlsaFileCapture
) -> None:
    make_set(tmp_path / "set", {"a.wav": 1.0})
    cfg = write_config(tmp_path, tmp_path / "set", audio__device=MISSING)
    booth = HeadlessBooth(cfg, file_capture.env, ("--no-receiver",))
    try:
        first = booth.wait_for("error")
        booth.send("lift")
        booth.wait_for("lift")
        during = booth.wait_for("error", 2)
        booth.send("hangup")
        booth.wait_for("hangup")
    finally:
        assert booth.quit(timeout=10) == 0, booth.stderr  # quit works while audio retries
    assert first["source"] == "audio" and MISSING in first["message"], first
    # The lift is reported, then an error that names the device: the dashboard sees people.
    names = [e["event"] for e in booth.events]
    assert names.index("lift") < names.index("error", names.index("lift")), names
    assert during["source"] == "audio" and MISSING in during["message"], during
    assert not booth.named("clip_start")


@pytest.mark.pulse
def test_without_a_display_the_simulator_runs_headless(tmp_path: Path, pulse: PulseSink) -> None:
    make_set(tmp_path / "set", {"a.wav": 1.0})
    cfg = write_config(tmp_path, tmp_path / "set")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("SDL_VIDEODRIVER", None)
    done = subprocess.run(
        [*KIOSK, "simulate", "--config", str(cfg)],
        input="lift\nsleep 0.5\nhangup\nquit\n",
        env={**env, **pulse.env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "no display here: running headless" in done.stderr
    assert '"event": "lift"' in done.stdout and '"event": "clip_start"' in done.stdout
