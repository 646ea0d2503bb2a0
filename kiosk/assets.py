"""The bundled prompts, tones and sample set: package data of the `kiosk` wheel."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from kiosk.audio.decode import compact, decode
from kiosk.errors import ConfigError, DecodeError
from kiosk.events import Sound, SoundKind

PROMPTS: dict[SoundKind, str] = {
    "no_stories": "no-stories.ogg",
    "end_tone": "end-tone.ogg",
    "hang_up": "please-hang-up.ogg",
    "guide": "guide.ogg",  # digit 0 (docs/dial.md)
    "rating": "rating.ogg",  # "If this changed how you see our customers, dial 1."
}


def bundled_dir() -> Path:
    """The `kiosk/data` folder inside the installed package (wheel, editable or checkout)."""
    # The wheel is installed unzipped, so the package data is a real folder on disk.
    return Path(str(resources.files("kiosk") / "data"))


def assets_dir(configured: str = "") -> Path:
    """`assets_dir` from the config (an override), else the package's bundled data."""
    return Path(configured) if configured else bundled_dir()


def sample_set(configured: str = "") -> Path:
    return assets_dir(configured) / "sample-set"


def load_prompts(folder: Path, rate: int) -> dict[SoundKind, Sound]:
    """Decode every bundled prompt, kept as int16 (`compact`: half the memory of float32);
    a missing one is an installation error."""
    sounds: dict[SoundKind, Sound] = {}
    problems = []
    for kind, name in PROMPTS.items():
        try:
            samples = compact(decode(folder / "prompts" / name, rate, max_seconds=30))
        except DecodeError as e:
            problems.append(f"assets_dir: bundled prompt {e}")
            continue
        sounds[kind] = Sound(kind, samples, len(samples) / rate)
    if problems:
        raise ConfigError(problems)
    return sounds
