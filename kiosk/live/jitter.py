"""The live call's jitter buffer and its view for the mixer.

`JitterBuffer.push` runs on the hub link's thread and only appends to a deque; `pull` runs on
the audio thread, sorts what arrived into 20 ms slots (the legs of a slot are summed: both legs
to mono) and plays them in order. It starts once `target` frames are buffered; a frame that is
missing when its turn comes is concealed by the last frame again, fading by half each time
(no click, no hole of silence); after `target` missing frames in a row it waits to fill again.
Frames later than their turn are dropped; a buffer grown past `max_frames` skips ahead.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soxr

FRAME = 160  # samples: 20 ms at 8 kHz
RATE = 8000
FADE = 0.5  # gain per concealed frame
Floats = npt.NDArray[np.float32]


@dataclass
class JitterStats:
    """Bumped on the audio thread (plain ints), read by the link thread."""

    played: int = 0
    concealed: int = 0
    late: int = 0
    skipped: int = 0
    waiting: int = 0


class JitterBuffer:
    def __init__(self, target: int, max_frames: int = 25) -> None:
        self.target = max(1, target)
        self.max_frames = max(max_frames, self.target + 2)
        self.stats = JitterStats()
        self._inbox: deque[tuple[int, Floats]] = deque()
        self._slots: dict[int, Floats] = {}
        self._next: int | None = None
        self._last: Floats = np.zeros(FRAME, np.float32)
        self._gain = 0.0  # of the last frame played (concealment fades it)
        self._lost = 0

    def push(self, seq: int, samples: Floats) -> None:
        """One leg's 20 ms frame number `seq` (any thread)."""
        self._inbox.append((seq, samples))

    def pull(self) -> Floats:
        """The next 20 ms to play (audio thread)."""
        while self._inbox:
            seq, samples = self._inbox.popleft()
            if self._next is not None and seq < self._next:
                self.stats.late += 1
                continue
            slot = self._slots.get(seq)
            self._slots[seq] = samples if slot is None else slot + samples
        if self._next is None:
            if not self._slots or max(self._slots) - min(self._slots) + 1 < self.target:
                self.stats.waiting += 1
                return self._conceal()
            self._next = min(self._slots)
        newest = max(self._slots, default=self._next)
        if newest - self._next >= self.max_frames:  # fell behind (a burst after a stall)
            start = newest - self.target + 1
            for seq in [s for s in self._slots if s < start]:
                del self._slots[seq]
                self.stats.skipped += 1
            self._next = start
        frame = self._slots.pop(self._next, None)
        self._next += 1
        if frame is None:
            self.stats.concealed += 1
            self._lost += 1
            if self._lost >= self.target and not self._slots:
                self._next = None  # a stall: fill up again before playing on
            return self._conceal()
        self.stats.played += 1
        self._lost = 0
        out = frame
        if self._gain < 1.0:  # back after a loss: ramp up from where the fade had got to
            out = frame * np.linspace(self._gain, 1.0, FRAME, dtype=np.float32)
        self._last, self._gain = frame, 1.0
        return out

    def _conceal(self) -> Floats:
        if self._gain <= 1e-3:
            self._gain = 0.0
            return np.zeros(FRAME, np.float32)
        end = self._gain * FADE
        out = self._last * np.linspace(self._gain, end, FRAME, dtype=np.float32)
        self._gain = end
        return out


class Upsampler:
    """8 kHz to `rate`, 20 ms in, 20 ms out, with no block buffering (soxr's better qualities
    hold back 80 ms or more and then hand out bursts: the jitter buffer would run dry).

    An integer ratio (48, 32, 24, 16 kHz) gets a polyphase windowed-sinc filter (24 taps a
    phase, 1.5 ms delay, cut-off 3.6 kHz: telephone audio stops at 3.4 kHz; images below
    -85 dB); any other rate soxr's quick cubic interpolation (weaker above 2 kHz).
    """

    TAPS = 24

    def __init__(self, rate: int) -> None:
        self.factor = rate // RATE if rate % RATE == 0 else 0
        self._soxr = (
            None
            if self.factor
            else soxr.ResampleStream(RATE, rate, 1, dtype="float32", quality="QQ")
        )
        if self.factor:
            n = self.TAPS * self.factor
            t = (np.arange(n) - (n - 1) / 2) / self.factor
            cutoff = 3600 / (RATE / 2)
            h = cutoff * np.sinc(cutoff * t) * np.kaiser(n, 8.0)
            self._phases = [h[p :: self.factor].astype(np.float32) for p in range(self.factor)]
            self._state = np.zeros(self.TAPS - 1, np.float32)

    def __call__(self, frame: Floats) -> Floats:
        if self._soxr is not None:
            return np.asarray(self._soxr.resample_chunk(frame), np.float32).ravel()
        extended = np.concatenate([self._state, frame])
        self._state = extended[-(self.TAPS - 1) :]
        out = np.empty(len(frame) * self.factor, np.float32)
        for p, h in enumerate(self._phases):
            out[p :: self.factor] = np.convolve(extended, h, "valid")
        return out


class LiveSamples:
    """What the mixer plays for a live call: looks like an endless sample array; slicing it
    pulls from the jitter buffer, resampled to the device rate (audio thread only)."""

    def __init__(self, buffer: JitterBuffer, rate: int) -> None:
        self.buffer = buffer
        self._resample = Upsampler(rate)
        self._fifo: Floats = np.zeros(0, np.float32)

    def __len__(self) -> int:
        return 2**62  # ends when the main loop stops it, never by running out

    def __getitem__(self, index: slice) -> Floats:
        n = int(index.stop) - int(index.start)
        while len(self._fifo) < n:
            more = self._resample(self.buffer.pull())
            self._fifo = np.concatenate([self._fifo, more])
        out, self._fifo = self._fifo[:n], self._fifo[n:]
        return out
