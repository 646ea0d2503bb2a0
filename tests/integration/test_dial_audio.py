"""The dial through the whole booth: the simulator's mock-pin dial, the real daemon, and what
reaches a PulseAudio null sink (tests/audio_rig.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiosk.audio.decode import decode
from tests.audio_rig import PulseSink, best_lag
from tests.booth_runner import HeadlessBooth, write_config
from tests.clipmaker import make_set

PROMPTS = Path(__file__).resolve().parents[2] / "kiosk" / "data" / "prompts"
pytestmark = pytest.mark.pulse


def heard(samples: np.ndarray, needle: np.ndarray, what: str, stderr: str) -> None:
    _, score = best_lag(samples, needle)
    assert score > 0.9, f"{what} not heard (score {score:.2f})\n{stderr[-3000:]}"


@pytest.mark.parametrize("kind", ["keypad", "rotary"])
def test_3_plays_the_newest_clip(tmp_path: Path, pulse: PulseSink, kind: str) -> None:
    clips = make_set(
        tmp_path / "set",
        {"old.wav": 4.0, "older.wav": 4.0, "new.wav": 4.0},
        extra_yaml={"new.wav:not_before": "2020-01-01", "old.wav:not_before": "2019-01-01"},
    )
    cfg = write_config(tmp_path, tmp_path / "set", dial__kind=kind)
    booth = HeadlessBooth(cfg, pulse.env)
    with pulse.record() as rec:
        try:
            booth.send("lift")
            booth.wait_for("clip_start")
            booth.send("sleep 0.5", "dial 3")
            dial = booth.wait_for("dial")
            second = booth.wait_for("clip_start", 2)
            booth.send("sleep 1.2")
            rec.sync(1.2)
            booth.send("hangup")
            booth.wait_for("hangup")
        finally:
            assert booth.quit() == 0
    assert (dial["digit"], dial["kind"], second["clip"]) == ("3", kind, "new.wav")
    assert booth.named("clip_end")[0]["finished"] is False  # the first clip was cut short
    heard(rec.between(dial["t"], dial["t"] + 1.2), clips["new.wav"][:24000], "new.wav", "")


def test_0_plays_the_guide(tmp_path: Path, pulse: PulseSink) -> None:
    make_set(tmp_path / "set", {"a.wav": 4.0, "b.wav": 4.0})
    booth = HeadlessBooth(write_config(tmp_path, tmp_path / "set"), pulse.env)
    with pulse.record() as rec:
        try:
            booth.send("lift")
            booth.wait_for("clip_start")
            booth.send("dial 0")
            dial = booth.wait_for("dial")
            booth.send("sleep 1.5")
            rec.sync(1.5)
            booth.send("hangup")
            booth.wait_for("hangup")
        finally:
            assert booth.quit() == 0
    guide = decode(PROMPTS / "guide.ogg", 48000, 60)
    heard(rec.between(dial["t"], dial["t"] + 1.5), guide[:36000], "the guide", booth.stderr)


def test_the_rating_prompt_after_a_clip_then_1_answers(tmp_path: Path, pulse: PulseSink) -> None:
    make_set(tmp_path / "set", {"a.wav": 1.0, "b.wav": 1.0})
    cfg = write_config(tmp_path, tmp_path / "set", dial__ask_after_s=0.5)
    booth = HeadlessBooth(cfg, pulse.env)
    with pulse.record() as rec:
        try:
            booth.send("lift")
            end = booth.wait_for("clip_end")
            booth.send("sleep 2.0")
            rec.sync(2.0)
            booth.send("dial 1")
            rating = booth.wait_for("rating")
            booth.send("hangup")
            booth.wait_for("hangup")
        finally:
            assert booth.quit() == 0
    prompt = decode(PROMPTS / "rating.ogg", 48000, 30)
    heard(rec.between(end["t"], end["t"] + 2.0), prompt[:48000], "the rating prompt", booth.stderr)
    assert rating["digit"] == "1" and rating["changed"] is True
    assert rating["clip"] == end["clip"] and rating["answer_ms"] >= 2000


def test_hanging_up_mid_prompt_brings_silence(tmp_path: Path, pulse: PulseSink) -> None:
    make_set(tmp_path / "set", {"a.wav": 1.0, "b.wav": 1.0})
    cfg = write_config(tmp_path, tmp_path / "set", dial__ask_after_s=0.5)
    booth = HeadlessBooth(cfg, pulse.env)
    with pulse.record() as rec:
        try:
            booth.send("lift")
            booth.wait_for("clip_end")
            booth.send("sleep 1.0", "hangup")
            hang = booth.wait_for("hangup")
            rating = booth.wait_for("rating")
            booth.send("sleep 1.0")
            rec.sync(1.0)
        finally:
            assert booth.quit() == 0
    assert rating["digit"] is None and rating["changed"] is False
    before = rec.between(hang["t"] - 0.5, hang["t"])
    assert np.max(np.abs(before)) > 0.01  # the prompt was playing
    after = rec.between(hang["t"] + 0.05, hang["t"] + 0.9)
    assert len(after) > 10000 and np.max(np.abs(after)) < 1e-4
