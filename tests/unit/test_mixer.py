"""The render path the PortAudio callback runs, block by block, without PortAudio."""

import tracemalloc

import numpy as np
import pytest

from kiosk.audio.decode import compact
from kiosk.audio.mixer import Mixer

BLOCK = 240
FADE = 384  # 8 ms at 48 kHz


def make(gain: float = 1.0, fade: int = FADE) -> tuple[Mixer, list[object]]:
    posted: list[object] = []
    return Mixer(8192, fade, gain, posted.append), posted


def render(m: Mixer, blocks: int, channels: int = 1) -> np.ndarray:
    out = np.empty((BLOCK, channels), dtype=np.float32)
    chunks = []
    for _ in range(blocks):
        m.render(out)
        chunks.append(out.copy())
    return np.concatenate(chunks)


def test_idle_is_silence() -> None:
    m, _ = make()
    assert not render(m, 10).any()
    assert m.stats.callbacks == 10


def test_plays_samples_exactly_then_posts_done_once() -> None:
    m, posted = make()
    clip = np.linspace(-0.5, 0.5, 1000, dtype=np.float32)
    m.play(clip, "done")
    out = render(m, 6)[:, 0]
    assert np.array_equal(out[:1000], clip) and not out[1000:].any()
    assert posted == ["done"]


def test_gain_and_stereo() -> None:
    m, _ = make(gain=0.5)
    m.play(np.full(BLOCK, 0.8, dtype=np.float32), None)
    out = render(m, 1, channels=2)
    assert np.allclose(out, 0.4)


@pytest.mark.parametrize("fade", [240, FADE, 480])  # 5, 8 and 10 ms: audio.fade_ms's range
def test_stop_fades_out_smoothly_then_silence(fade: int) -> None:
    m, posted = make(fade=fade)
    tone = (0.5 * np.sin(np.arange(48000) * 2 * np.pi * 440 / 48000)).astype(np.float32)
    m.play(tone, "done")
    before = render(m, 4)
    m.stop()
    after = render(m, 4)[:, 0]
    assert np.array_equal(before[:, 0], tone[: 4 * BLOCK])
    faded = after[:fade]
    envelope = faded / tone[4 * BLOCK : 4 * BLOCK + fade]
    mask = np.abs(tone[4 * BLOCK : 4 * BLOCK + fade]) > 0.05
    assert np.all(np.diff(envelope[mask]) <= 1e-6)  # monotonic fade
    assert envelope[mask][0] > 0.95 and envelope[mask][-1] < 0.05
    assert not after[fade:].any()  # silence within the fade
    assert np.max(np.abs(np.diff(after))) < 0.05  # no click: steps no bigger than the tone's own
    assert posted == []  # a stopped sound never reports finishing


def test_play_while_playing_cuts_with_a_fade() -> None:
    m, _ = make()
    m.play(np.full(48000, 0.3, dtype=np.float32), "a")
    render(m, 2)
    m.play(np.full(48000, -0.3, dtype=np.float32), "b")
    out = render(m, 4)[:, 0]
    assert np.max(np.abs(np.diff(out))) < 0.01


def test_reset_forgets_everything() -> None:
    m, _ = make()
    m.play(np.ones(48000, dtype=np.float32), "x")
    m.reset()
    assert not render(m, 2).any()


def test_silent_once_every_command_is_taken_and_the_fade_is_out() -> None:
    m, _ = make()
    assert m.silent
    m.play(np.full(48000, 0.3, dtype=np.float32), "a")
    assert not m.silent  # queued, not yet taken by the audio thread
    render(m, 2)
    assert not m.silent  # playing
    m.stop()
    assert not m.silent
    render(m, 1)  # the fade has begun (FADE > one block)
    assert not m.silent
    render(m, 1)
    assert m.silent
    m.stop()  # a stop with nothing playing still has to be taken
    assert not m.silent
    render(m, 1)
    assert m.silent


def test_silent_after_a_sound_ends_by_itself_and_after_reset() -> None:
    m, _ = make()
    m.play(np.full(BLOCK // 2, 0.3, dtype=np.float32), "short")
    render(m, 1)
    assert m.silent
    m.play(np.full(48000, 0.3, dtype=np.float32), "long")
    m.reset()
    assert m.silent


def test_render_does_not_allocate_sample_buffers() -> None:
    m, _ = make()
    clip = np.full(48000 * 5, 0.1, dtype=np.float32)
    out = np.empty((BLOCK, 1), dtype=np.float32)
    m.play(clip, "x")
    m.render(out)
    tracemalloc.start()
    try:
        snap0 = tracemalloc.take_snapshot()
        for i in range(500):
            m.render(out)
            if i == 200:
                m.stop()
                m.play(clip, "y")
        snap1 = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(s.size_diff for s in snap1.compare_to(snap0, "filename") if s.size_diff > 0)
    assert grown < 4 * BLOCK * 4  # no block-sized numpy buffers per callback


def test_compact_int16_samples_play_and_fade_as_their_float_original() -> None:
    """The prompts are kept as int16 (kiosk.audio.decode.compact): same sound, same fade."""
    tone = (0.5 * np.sin(np.arange(4800) * 2 * np.pi * 440 / 48000)).astype(np.float32)
    played = []
    for samples in (tone, compact(tone)):
        m, posted = make()
        m.play(samples, "done")
        before = render(m, 4)
        m.stop()
        played.append(np.concatenate([before, render(m, 4)])[:, 0])
        assert posted == []  # cut by stop(), never finished
    assert compact(tone).dtype == np.int16
    assert np.max(np.abs(played[1] - played[0])) <= 1 / 32767
    assert not played[1][4 * BLOCK + FADE :].any()
