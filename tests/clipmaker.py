"""Make clip-set folders with known, distinguishable audio for tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 48000


def voice(seed: int, seconds: float = 1.0, rate: int = RATE) -> np.ndarray:
    """Band-limited noise unique to `seed` (correlates only with itself), at -12 dBFS peak."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / rate)
    spectrum[(freqs < 200) | (freqs > 3400)] = 0
    x = np.fft.irfft(spectrum, n)
    out: np.ndarray = (0.25 * x / np.max(np.abs(x))).astype(np.float32)
    return out


def make_set(
    folder: Path,
    clips: dict[str, float] | None = None,
    name: str = "test-set",
    extra_yaml: dict[str, str] | None = None,
) -> dict[str, np.ndarray]:
    """Write a clip set of WAV/OGG/FLAC files; returns the samples of each file (at RATE)."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = clips or {"a.wav": 1.0, "b.flac": 1.0, "c.ogg": 1.0}
    lines = [f"name: {name}", "clips:"]
    written: dict[str, np.ndarray] = {}
    for i, (file, seconds) in enumerate(clips.items()):
        samples = voice(i + 1, seconds)
        sf.write(folder / file, samples, RATE)
        written[file] = samples
        lines += [f"  - file: {file}", f'    title: "Title {file}"', f'    speaker: "Speaker {i}"']
        for key, value in (extra_yaml or {}).items():
            if key.startswith(file + ":"):
                lines.append(f"    {key.split(':', 1)[1]}: {value}")
    (folder / "clipset.yaml").write_text("\n".join(lines) + "\n")
    return written
