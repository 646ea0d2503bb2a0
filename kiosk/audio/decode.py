"""Decode an audio file into mono float32 samples at the device rate, ready for the mixer
(or `compact` int16, for what stays in memory)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from kiosk.errors import DecodeError

Samples = np.ndarray

# Below this peak a file is silence in practice (about -70 dBFS).
SILENCE_PEAK = 3e-4


def decode(path: Path, rate: int, max_seconds: float, edge_ms: float = 3.0) -> Samples:
    """Samples of `path` as contiguous float32 mono at `rate` Hz.

    Raises DecodeError for an unreadable, corrupt, empty, unsupported, silent or overlong file.
    The first and last `edge_ms` are ramped so a clip never starts or stops with a click.
    """
    name = str(path)
    try:
        with sf.SoundFile(str(path)) as f:
            if f.frames > 0 and f.frames / f.samplerate > max_seconds:
                raise DecodeError(name, _too_long(f.frames / f.samplerate, max_seconds))
            data = f.read(dtype="float32", always_2d=True)
            source_rate = f.samplerate
    except DecodeError:
        raise
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError, TypeError) as e:
        raise DecodeError(name, f"cannot decode: {e}") from e
    if data.shape[0] == 0:
        raise DecodeError(name, "empty: no audio frames")
    if data.shape[0] / source_rate > max_seconds:
        raise DecodeError(name, _too_long(data.shape[0] / source_rate, max_seconds))
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.all(np.isfinite(mono)):
        raise DecodeError(name, "corrupt: samples are not finite numbers")
    if float(np.max(np.abs(mono))) < SILENCE_PEAK:
        raise DecodeError(name, "silent: no audible samples")
    if source_rate != rate:
        mono = soxr.resample(mono, source_rate, rate, quality="HQ")
    out = np.ascontiguousarray(np.clip(mono, -1.0, 1.0), dtype=np.float32)
    ramp(out, int(rate * edge_ms / 1000))
    return out


def compact(samples: Samples) -> Samples:
    """`samples` (float32 in [-1, 1]) as int16, half the memory, for sounds kept all the time
    (the prompts); the mixer plays both kinds (INT16_SCALE)."""
    out: Samples = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)
    return out


INT16_SCALE = 1.0 / 32767.0  # int16 samples back to float


def _too_long(seconds: float, limit: float) -> str:
    return f"too long: {seconds:.0f} s > clips.max_seconds {limit:g} s"


def ramp(samples: Samples, frames: int) -> None:
    """Fade the first and last `frames` in place (raised-cosine)."""
    n = min(frames, len(samples) // 2)
    if n <= 0:
        return
    shape = fade_in_curve(n)
    samples[:n] *= shape
    samples[-n:] *= shape[::-1]


def fade_in_curve(n: int) -> np.ndarray:
    """A raised-cosine ramp from 0 towards 1 over `n` samples (float32)."""
    return (0.5 - 0.5 * np.cos(np.pi * np.arange(n, dtype=np.float64) / n)).astype(np.float32)
