"""The render side of the audio path: what the PortAudio callback runs, block by block.

Thread contract: `play()` and `stop()` are called by the main thread and only append to a
deque; `render()` runs on the audio thread, drains that deque, and copies samples with numpy
`out=` arithmetic into buffers allocated up front. Nothing here blocks: deque appends and
`SimpleQueue.put` take no lock that another thread can hold for long.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from kiosk.audio.decode import INT16_SCALE, Samples, fade_in_curve


@dataclass(eq=False)
class Voice:
    """One sound being played; `done` is posted to the main loop when its last sample is out.
    `scale` takes its samples to float (INT16_SCALE for compact int16 ones, else 1)."""

    samples: Samples
    done: object
    scale: np.float32
    pos: int = 0
    fade_pos: int = -1  # >= 0 while fading out after stop()


@dataclass
class MixerStats:
    """Counters the audio thread bumps and the main thread reads (plain ints: atomic enough)."""

    callbacks: int = 0
    underruns: int = 0
    frames: int = 0
    blocks_playing: int = field(default=0)


class Mixer:
    """Plays one voice at a time; stop() fades it out over `fade_frames`."""

    def __init__(
        self, max_frames: int, fade_frames: int, gain: float, post: Callable[[object], None]
    ) -> None:
        self._commands: deque[Voice | None] = deque()
        self._post = post
        self._gain = np.float32(gain)
        self._fade = (1.0 - fade_in_curve(fade_frames)).astype(np.float32)
        self._mix = np.zeros(max_frames, dtype=np.float32)
        self._tmp = np.zeros(max_frames, dtype=np.float32)
        self._current: Voice | None = None
        self._fading: Voice | None = None
        self._issued = 0  # commands appended (main thread)
        self._settled = (0, True)  # (commands taken, nothing playing), one write (audio thread)
        self.stats = MixerStats()

    # -- main thread -------------------------------------------------------------------
    def play(self, samples: Samples, done: object) -> None:
        """Start `samples` (float32, or int16 from `compact`) at the next block, cutting (with
        a fade) whatever plays now."""
        compact = getattr(samples, "dtype", None) == np.int16
        self._issued += 1
        self._commands.append(Voice(samples, done, np.float32(INT16_SCALE if compact else 1.0)))

    def stop(self) -> None:
        """Fade out the current sound; silence follows within one block plus the fade."""
        self._issued += 1
        self._commands.append(None)

    def reset(self) -> None:
        """Forget queued commands and voices; only while no stream is running."""
        self._commands.clear()
        self._current = self._fading = None
        self._settled = (self._issued, True)

    @property
    def silent(self) -> bool:
        """Main thread: every command is taken and nothing plays, so blocks stay silence."""
        taken, quiet = self._settled
        return quiet and taken == self._issued

    # -- audio thread ------------------------------------------------------------------
    def render(self, out: np.ndarray, underrun: bool = False) -> None:
        """Fill `out` (frames x channels, float32) with the next block."""
        stats = self.stats
        stats.callbacks += 1
        if underrun:
            stats.underruns += 1
        frames = out.shape[0]
        stats.frames += frames
        if frames > len(self._mix):  # PortAudio keeps to the block size we asked for
            out.fill(0.0)
            return
        taken = self._settled[0]
        while self._commands:
            voice = self._commands.popleft()
            taken += 1
            if self._current is not None:
                self._current.fade_pos = 0
                self._fading = self._current
            self._current = voice
        if self._current is None and self._fading is None:
            self._settled = (taken, True)
            out.fill(0.0)
            return
        stats.blocks_playing += 1
        mix = self._mix[:frames]
        mix.fill(0.0)
        if self._fading is not None:
            self._render_fade(self._fading, mix)
        current = self._current
        if current is not None:
            n = min(frames, len(current.samples) - current.pos)
            tmp = self._tmp[:n]
            np.multiply(current.samples[current.pos : current.pos + n], current.scale, out=tmp)
            np.add(mix[:n], tmp, out=mix[:n])
            current.pos += n
            if current.pos >= len(current.samples):
                self._current = None
                self._post(current.done)
        np.multiply(mix, self._gain, out=mix)
        for ch in range(out.shape[1]):
            out[:, ch] = mix
        self._settled = (taken, self._current is None and self._fading is None)

    def _render_fade(self, voice: Voice, mix: np.ndarray) -> None:
        n = min(len(mix), len(self._fade) - voice.fade_pos, len(voice.samples) - voice.pos)
        tmp = self._tmp[:n]
        np.multiply(
            voice.samples[voice.pos : voice.pos + n],
            self._fade[voice.fade_pos : voice.fade_pos + n],
            out=tmp,
        )
        np.multiply(tmp, voice.scale, out=tmp)
        np.add(mix[:n], tmp, out=mix[:n])
        voice.pos += n
        voice.fade_pos += n
        if voice.fade_pos >= len(self._fade) or voice.pos >= len(voice.samples):
            self._fading = None
