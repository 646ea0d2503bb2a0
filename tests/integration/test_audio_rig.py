"""Self-test of tests/audio_rig.py: a child process plays through PortAudio's ALSA "default"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from kiosk.errors import AudioError
from tests.audio_rig import (
    RATE,
    AlsaFileCapture,
    PulseSink,
    best_lag,
    first_nonsilent,
    last_nonsilent,
    max_step,
)

# Plays each .npy file given as (path, rate) pairs, one sounddevice stream per file.
PLAY = """
import sys
import numpy as np
import sounddevice as sd
args = sys.argv[1:]
for path, rate in zip(args[::2], args[1::2]):
    sd.play(np.load(path), samplerate=int(rate), device="default")
    sd.wait()
"""

# Opens one callback stream (latency argv[1]) and writes a 1 ms pulse at frame argv[2].
# Reports the edge (just before opening) and PortAudio's own prediction of when the pulse
# reaches the DAC, mapped from PortAudio's clock to time.monotonic().
CLICK = """
import json, sys, threading, time
import sounddevice as sd
latency, click_at = sys.argv[1], int(sys.argv[2])
state = {"n": 0, "offset": float("inf"), "dac": None}
done = threading.Event()

def callback(out, frames, t, status):
    now = time.monotonic()
    # PortAudio's clock is CLOCK_REALTIME here; the smallest gap over all callbacks is the
    # best estimate of the clock offset (any later sample only adds scheduling delay).
    state["offset"] = min(state["offset"], now - t.currentTime)
    out.fill(0)
    n = state["n"]
    if n <= click_at < n + frames:
        k = click_at - n
        out[k : k + 48, 0] = 0.8
        state["dac"] = t.outputBufferDacTime + k / 48000
    state["n"] = n + frames
    if state["n"] >= click_at + 9600:
        raise sd.CallbackStop

edge = time.monotonic()
with sd.OutputStream(samplerate=48000, channels=1, dtype="float32", device="default",
                     latency=latency, callback=callback, finished_callback=done.set) as s:
    done.wait()
print(json.dumps({"edge": edge, "dac": state["dac"] + state["offset"], "latency": s.latency}))
"""


def run_child(code: str, env: dict[str, str], *args: str) -> str:
    """Run `code` in a fresh interpreter with the rig env; return its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    # PortAudio's device probing must be quiet under the rig's ALSA config.
    assert "ALSA lib" not in done.stderr, done.stderr
    return done.stdout


def tone(freq: float, seconds: float, rate: int = RATE) -> npt.NDArray[np.float32]:
    """0.5-amplitude sine with 5 ms raised-cosine ramps (no onset click)."""
    t = np.arange(int(seconds * rate)) / rate
    x = 0.5 * np.sin(2 * np.pi * freq * t)
    ramp = int(0.005 * rate)
    fade = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, ramp))
    x[:ramp] *= fade
    x[-ramp:] *= fade[::-1]
    return x.astype(np.float32)


def padded(x: npt.NDArray[np.float32], rate: int = RATE) -> npt.NDArray[np.float32]:
    """`x` with 100 ms of silence before and after."""
    gap = np.zeros(rate // 10, dtype=np.float32)
    return np.concatenate([gap, x, gap])


def save(tmp_path: Path, name: str, x: npt.NDArray[np.generic]) -> str:
    path = tmp_path / f"{name}.npy"
    np.save(path, x)
    return str(path)


def assert_tone_at(x: npt.NDArray[np.float32], ref: npt.NDArray[np.float32], tolerance: int) -> int:
    """`ref` is in `x` with silence around it; returns where it starts."""
    lag, score = best_lag(x, ref)
    assert score >= 0.9, score
    first, last = first_nonsilent(x), last_nonsilent(x)
    ref_first, ref_last = first_nonsilent(ref), last_nonsilent(ref)
    assert first is not None and last is not None
    assert ref_first is not None and ref_last is not None
    # Nothing audible outside the tone: silence before and after it.
    assert abs(first - (lag + ref_first)) <= tolerance, (first, lag + ref_first)
    assert abs(last - (lag + ref_last)) <= tolerance, (last, lag + ref_last)
    assert max_step(x) < 0.05  # the sine's own largest step is ~0.029
    return lag


def test_analysis_helpers() -> None:
    rng = np.random.default_rng(1)
    needle = tone(440, 0.05)
    hay = np.zeros(RATE // 2, dtype=np.float32)
    hay[1234 : 1234 + needle.size] = 0.1 * needle  # gain must not matter
    assert best_lag(hay, needle) == (1234, pytest.approx(1.0, abs=1e-6))
    noisy = hay + rng.normal(0, 0.01, hay.size).astype(np.float32)
    assert best_lag(noisy, needle)[0] == 1234
    assert best_lag(noisy, tone(660, 0.05))[1] < 0.5
    onset, end = first_nonsilent(0.1 * needle), last_nonsilent(0.1 * needle)
    assert onset is not None and first_nonsilent(hay) == 1234 + onset
    assert end is not None and last_nonsilent(hay) == 1234 + end
    assert first_nonsilent(np.zeros(10)) is None and last_nonsilent(np.zeros(10)) is None
    assert max_step(hay) < 0.01
    hay[100] = 0.5  # a click
    assert max_step(hay) == pytest.approx(0.5)


def test_file_capture_is_exact_at_native_format(tmp_path: Path) -> None:
    cap = AlsaFileCapture(tmp_path)
    ref = tone(440, 0.3)
    run_child(PLAY, cap.env, save(tmp_path, "a", padded(ref)), str(RATE))

    x = cap.samples()
    lag = assert_tone_at(x, ref, tolerance=0)
    # PortAudio primes the ALSA buffer with silence before the first callback data.
    assert lag >= RATE // 10
    np.testing.assert_array_equal(x[lag : lag + ref.size], ref)
    assert not np.any(x[lag + ref.size :])


def test_file_capture_converts_and_splits_streams(tmp_path: Path) -> None:
    cap = AlsaFileCapture(tmp_path)
    # 44.1 kHz stereo int16, then 48 kHz mono float: plug must bring both to 48 kHz mono.
    first = np.repeat(
        (padded(tone(440, 0.3, 44100), 44100) * 32767).astype(np.int16)[:, None], 2, 1
    )
    second = padded(tone(660, 0.2))
    run_child(
        PLAY, cap.env, save(tmp_path, "a", first), "44100", save(tmp_path, "b", second), str(RATE)
    )

    streams = cap.streams()
    assert len(streams) == 2
    assert_tone_at(streams[0], tone(440, 0.3), tolerance=48)
    assert_tone_at(streams[1], tone(660, 0.2), tolerance=0)
    assert best_lag(streams[0], tone(660, 0.2))[1] < 0.5  # the tones are told apart
    assert cap.samples().size == sum(s.size for s in streams)
    assert cap.bytes_written() == 4 * cap.samples().size


@pytest.mark.pulse
def test_pulse_sink_records_what_the_child_plays(tmp_path: Path) -> None:
    ref = tone(440, 0.3)
    clip = save(tmp_path, "a", padded(ref))
    with PulseSink(tmp_path) as sink, sink.record() as rec:
        run_child(PLAY, sink.env, clip, str(RATE))
        rec.sync()
        x = rec.samples()
    assert not sink.running and not rec.running

    lag = assert_tone_at(x, ref, tolerance=0)
    assert lag > RATE // 20  # recording was running well before the child played
    assert x.size - (lag + ref.size) > RATE // 20  # and well after
    # float32 at the sink's own rate and 100 % volume passes through bit-exact.
    np.testing.assert_array_equal(x[lag : lag + ref.size], ref)


@pytest.mark.pulse
@pytest.mark.parametrize("latency", ["low", "high"])
def test_pulse_recorder_timing_is_conservative(tmp_path: Path, latency: str) -> None:
    with PulseSink(tmp_path) as sink, sink.record() as rec:
        report = json.loads(run_child(CLICK, sink.env, latency, "9600"))
        rec.sync()
        x = rec.samples()
        onset = first_nonsilent(x, threshold=0.1)
        assert onset is not None
        arrival = rec.time_of_sample(onset)
    error = arrival - report["dac"]
    print(
        f"latency={latency} stream={report['latency'] * 1e3:.1f} ms "
        f"edge->sound={(arrival - report['edge']) * 1e3:.1f} ms "
        f"estimate-PortAudio DAC time={error * 1e3:+.2f} ms"
    )
    # Never early, give or take 1 ms for PortAudio's own DAC prediction and clock mapping;
    # and not uselessly late (typically 0.2-2 ms, under full CPU load still < 3 ms).
    assert -0.001 <= error < 0.03
    assert x.size > onset + 9000  # the tail was recorded too


@pytest.mark.pulse
def test_pulse_sink_start_failure_reports_the_log(tmp_path: Path) -> None:
    sink = PulseSink(tmp_path, sink_name="two words")  # breaks module-null-sink's arguments
    with pytest.raises(AudioError, match="no sink 'two words'") as info:
        sink.start()
    assert "module-null-sink" in str(info.value)
    assert not sink.running
