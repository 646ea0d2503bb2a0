#!/usr/bin/env python3
"""Generate the bundled audio assets (sample clip set and prompts) deterministically.

Speech comes from espeak-ng, tones are synthesised with numpy; everything is written as
mono OGG Vorbis with soundfile.  Running the script twice produces byte-identical files:
libsndfile picks a random Ogg stream serial number, so we rewrite it (and each page CRC)
to a fixed value derived from the file name.

Usage: python scripts/make_assets.py [--out DIR]
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

Audio = npt.NDArray[np.float64]

SAMPLE_RATE = 22050  # espeak-ng's native rate; no resampling needed
FADE_S = 0.020
SPEECH_PEAK_DBFS = -3.0
TONE_PEAK_DBFS = -12.0
MAX_CLIP_BYTES = 60_000
CLIP_MIN_S = 3.0
CLIP_MAX_S = 7.0
# libsndfile sets libvorbis VBR quality = 1 - compression_level, so 0.6 means quality 0.4
# (libsndfile's default, roughly vorbis -q4): transparent enough for speech, ~50 kbit/s here.
VORBIS_COMPRESSION = 0.6

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "kiosk" / "data"


@dataclass(frozen=True)
class Story:
    """One customer story in the sample clip set."""

    file: str
    title: str
    speaker: str
    voice: str
    pitch: int
    speed: int
    text: str
    weight: int | None = None


STORIES: tuple[Story, ...] = (
    Story(
        file="maria.ogg",
        title="I almost cancelled",
        speaker="Maria, customer since 2019",
        voice="en+f3",
        pitch=62,
        speed=165,
        text=(
            "I almost cancelled my subscription, but the support agent called me back "
            "the same day, and fixed everything."
        ),
        weight=2,
    ),
    Story(
        file="tom.ogg",
        title="Forty minutes on hold",
        speaker="Tom, runs a small bakery",
        voice="en+m3",
        pitch=38,
        speed=160,
        text=(
            "I waited forty minutes on hold, and got transferred three times. "
            "Nobody could tell me where my order was."
        ),
    ),
    Story(
        file="priya.ogg",
        title="Charged twice?",
        speaker="Priya, customer since 2021",
        voice="en-us+f4",
        pitch=72,
        speed=175,
        text=(
            "My invoice had two charges for the same month. "
            "I still don't understand what the second one was for."
        ),
    ),
    Story(
        file="jonas.ogg",
        title="Five minutes on the train",
        speaker="Jonas, student",
        voice="en+m7",
        pitch=45,
        speed=160,
        text=(
            "The new app is so much faster. "
            "I set up my whole account on the train, in about five minutes."
        ),
    ),
    Story(
        file="aisha.ogg",
        title="Why I stay",
        speaker="Aisha, customer since 2016",
        voice="en-gb+f2",
        pitch=55,
        speed=160,
        text=(
            "When my parcel arrived broken, they sent a new one before I even posted "
            "the old one back. That's why I stay."
        ),
    ),
)


# --------------------------------------------------------------------------- DSP helpers


def db_to_amp(db: float) -> float:
    """Convert dBFS to linear amplitude."""
    return float(10.0 ** (db / 20.0))


def peak_normalise(x: Audio, peak_dbfs: float) -> Audio:
    """Scale so the absolute peak sits at ``peak_dbfs``."""
    peak = float(np.max(np.abs(x)))
    if peak == 0.0:
        return x
    return x * (db_to_amp(peak_dbfs) / peak)


def fade(x: Audio, fade_in_s: float, fade_out_s: float | None = None) -> Audio:
    """Apply raised-cosine fades that start and end exactly at zero."""
    out = x.copy()
    for length_s, at_start in ((fade_in_s, True), (fade_out_s or fade_in_s, False)):
        n = min(round(length_s * SAMPLE_RATE), len(out))
        if n < 2:
            continue
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))  # 0 -> 1 inclusive
        if at_start:
            out[:n] *= ramp
        else:
            out[-n:] *= ramp[::-1]
    return out


def trim_silence(x: Audio, threshold_db: float = -45.0, margin_s: float = 0.015) -> Audio:
    """Drop leading/trailing samples quieter than ``threshold_db`` relative to the peak."""
    peak = float(np.max(np.abs(x)))
    if peak == 0.0:
        return x
    loud = np.flatnonzero(np.abs(x) > peak * db_to_amp(threshold_db))
    margin = round(margin_s * SAMPLE_RATE)
    start = max(int(loud[0]) - margin, 0)
    end = min(int(loud[-1]) + 1 + margin, len(x))
    return x[start:end]


def silence(seconds: float) -> Audio:
    """Return digital silence."""
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.float64)


def bell(freq: float, seconds: float, decay_s: float) -> Audio:
    """A soft sine 'bell' note: 5 ms attack ramp, exponential decay, faded to zero."""
    t = np.arange(round(seconds * SAMPLE_RATE), dtype=np.float64) / SAMPLE_RATE
    # A quiet octave partial that dies faster keeps it gentle but less sterile.
    tone = np.sin(2 * np.pi * freq * t) * np.exp(-t / decay_s)
    tone += 0.12 * np.sin(2 * np.pi * 2 * freq * t) * np.exp(-t / (decay_s / 3))
    return fade(tone, 0.005, 0.030)


def chime(notes: Sequence[float], spacing_s: float, total_s: float, decay_s: float) -> Audio:
    """Overlapping bell notes starting ``spacing_s`` apart, ``total_s`` long in all."""
    out = silence(total_s)
    for i, freq in enumerate(notes):
        start = round(i * spacing_s * SAMPLE_RATE)
        note = bell(freq, total_s - i * spacing_s, decay_s)
        out[start : start + len(note)] += note[: len(out) - start]
    return fade(out, 0.005, 0.050)


def sine(freq: float, seconds: float, peak_dbfs: float, ramp_s: float) -> Audio:
    """A plain sine at ``peak_dbfs`` with raised-cosine ramps."""
    t = np.arange(round(seconds * SAMPLE_RATE), dtype=np.float64) / SAMPLE_RATE
    return fade(db_to_amp(peak_dbfs) * np.sin(2 * np.pi * freq * t), ramp_s)


def speak(text: str, voice: str, pitch: int, speed: int) -> Audio:
    """Render ``text`` with espeak-ng; returns trimmed, faded, un-normalised mono audio."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SystemExit("espeak-ng not found (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        cmd = [exe, "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(wav), text]
        subprocess.run(cmd, check=True, capture_output=True)
        data, rate = sf.read(wav, dtype="float64", always_2d=True)
    if rate != SAMPLE_RATE:
        raise SystemExit(f"espeak-ng produced {rate} Hz, expected {SAMPLE_RATE} Hz")
    mono: Audio = data.mean(axis=1)
    return fade(trim_silence(mono), FADE_S)


# --------------------------------------------------------------------------- writing


def _ogg_crc(page: bytes) -> int:
    """CRC-32 as used by Ogg (poly 0x04C11DB7, MSB-first, init 0, no final xor)."""
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
            crc &= 0xFFFFFFFF
    return crc


def fix_ogg_serial(data: bytes, serial: int) -> bytes:
    """Rewrite every Ogg page's stream serial number and recompute its CRC."""
    out = bytearray()
    pos = 0
    while pos < len(data):
        if data[pos : pos + 4] != b"OggS":
            raise ValueError(f"not an Ogg page at byte {pos}")
        nsegs = data[pos + 26]
        body = sum(data[pos + 27 : pos + 27 + nsegs])
        page = bytearray(data[pos : pos + 27 + nsegs + body])
        page[14:18] = serial.to_bytes(4, "little")
        page[22:26] = b"\0\0\0\0"
        page[22:26] = _ogg_crc(bytes(page)).to_bytes(4, "little")
        out += page
        pos += len(page)
    return bytes(out)


def write_ogg(path: Path, audio: Audio) -> None:
    """Encode mono Vorbis to ``path`` with a deterministic stream serial."""
    if np.max(np.abs(audio)) > 1.0:
        raise ValueError(f"{path.name}: clipping")
    buf = io.BytesIO()
    sf.write(
        buf,
        audio.astype(np.float32),
        SAMPLE_RATE,
        format="OGG",
        subtype="VORBIS",
        compression_level=VORBIS_COMPRESSION,
    )
    serial = zlib.crc32(path.name.encode()) & 0x7FFFFFFF
    path.write_bytes(fix_ogg_serial(buf.getvalue(), serial))


def describe(path: Path) -> str:
    """One line: duration, peak and size of a written file (decoded back with soundfile)."""
    data, rate = sf.read(path, dtype="float64")
    peak = float(np.max(np.abs(data)))
    peak_db = 20 * np.log10(peak) if peak > 0 else float("-inf")
    size = path.stat().st_size
    return f"{path}  {len(data) / rate:5.2f} s  peak {peak_db:6.1f} dBFS  {size / 1024:5.1f} KiB"


def yaml_str(value: str) -> str:
    """Double-quoted YAML scalar."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def clipset_yaml(name: str, stories: Sequence[Story]) -> str:
    """Render clipset.yaml in the project's documented layout."""
    lines = [f"name: {name}", "clips:"]
    for s in stories:
        lines.append(f"  - file: {s.file}")
        lines.append(f"    title: {yaml_str(s.title)}")
        lines.append(f"    speaker: {yaml_str(s.speaker)}")
        if s.weight is not None:
            lines.append(f"    weight: {s.weight}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- assets


def make_sample_set(out: Path) -> list[Path]:
    """The five-story sample clip set plus its clipset.yaml."""
    folder = out / "sample-set"
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for story in STORIES:
        audio = peak_normalise(
            speak(story.text, story.voice, story.pitch, story.speed), SPEECH_PEAK_DBFS
        )
        seconds = len(audio) / SAMPLE_RATE
        if not CLIP_MIN_S <= seconds <= CLIP_MAX_S:
            raise SystemExit(
                f"{story.file}: {seconds:.2f} s is outside {CLIP_MIN_S}-{CLIP_MAX_S} s"
            )
        path = folder / story.file
        write_ogg(path, audio)
        if path.stat().st_size >= MAX_CLIP_BYTES:
            raise SystemExit(f"{story.file}: {path.stat().st_size} bytes is too big")
        written.append(path)
    yaml_path = folder / "clipset.yaml"
    yaml_path.write_text(clipset_yaml("sample", STORIES), encoding="utf-8")
    written.append(yaml_path)
    return written


def make_prompts(out: Path) -> list[Path]:
    """System prompts: spoken messages and synthetic tones."""
    folder = out / "prompts"
    folder.mkdir(parents=True, exist_ok=True)
    c5, e5, g5, a5 = 523.25, 659.26, 783.99, 880.00

    def voice(text: str) -> Audio:
        return speak(text, "en-us+f2", 55, 150)

    prompts: dict[str, Audio] = {
        "no-stories.ogg": peak_normalise(
            voice("No stories right now. Please try again later."), SPEECH_PEAK_DBFS
        ),
        "please-hang-up.ogg": np.concatenate(
            [
                peak_normalise(chime([a5, e5], 0.28, 0.9, 0.22), TONE_PEAK_DBFS),
                silence(0.25),
                # "Soft": slower, lower and 3 dB quieter than the other spoken prompts.
                peak_normalise(speak("Please hang up the handset.", "en-us+f2", 48, 135), -6.0),
            ]
        ),
        "end-tone.ogg": peak_normalise(chime([g5, e5, c5], 0.3, 1.2, 0.25), TONE_PEAK_DBFS),
        "connecting.ogg": peak_normalise(voice("Connecting you to a live call."), SPEECH_PEAK_DBFS),
        # The dial (docs/dial.md): the question after a clip or call, and digit 0's guide.
        "rating.ogg": peak_normalise(
            voice("If this changed how you see our customers, dial 1."), SPEECH_PEAK_DBFS
        ),
        "guide.ogg": peak_normalise(
            voice(
                "You hear real customers, in their own words. Dial 1 for a live call, "
                "2 for the next story, 3 for the newest, 0 for this guide."
            ),
            SPEECH_PEAK_DBFS,
        ),
        "test-tone.ogg": sine(1000.0, 1.0, TONE_PEAK_DBFS, 0.010),
        # `kiosk selftest` plays it after the test tone (kiosk/selftest/sound.py quotes it).
        "self-test.ogg": peak_normalise(
            voice("This is the booth's self test. If you can hear this voice, the receiver works."),
            SPEECH_PEAK_DBFS,
        ),
    }
    written: list[Path] = []
    for name, audio in prompts.items():
        if audio[0] != 0.0 or audio[-1] != 0.0:
            raise SystemExit(f"{name}: does not start and end at zero")
        path = folder / name
        write_ogg(path, audio)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output assets directory")
    args = parser.parse_args(argv)
    out: Path = args.out
    for path in make_sample_set(out) + make_prompts(out):
        print(describe(path) if path.suffix == ".ogg" else f"{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
