"""The bundled prompts and tones, found in the assets folder."""

from __future__ import annotations

from pathlib import Path

from kiosk.audio.decode import decode
from kiosk.errors import ConfigError, DecodeError
from kiosk.events import Sound, SoundKind

_CANDIDATES = (
    Path(__file__).resolve().parent.parent / "assets",  # a checkout or editable install
    Path("/usr/share/kiosk/assets"),
    Path("/opt/kiosk/assets"),
)
PROMPTS: dict[SoundKind, str] = {
    "no_stories": "no-stories.ogg",
    "end_tone": "end-tone.ogg",
    "hang_up": "please-hang-up.ogg",
}


def assets_dir(configured: str = "") -> Path:
    """`assets_dir` from the config, else the first bundled location that exists."""
    if configured:
        return Path(configured)
    for candidate in _CANDIDATES:
        if (candidate / "prompts").is_dir():
            return candidate
    return _CANDIDATES[0]


def sample_set(configured: str = "") -> Path:
    return assets_dir(configured) / "sample-set"


def load_prompts(folder: Path, rate: int) -> dict[SoundKind, Sound]:
    """Decode every bundled prompt; a missing one is an installation error."""
    sounds: dict[SoundKind, Sound] = {}
    problems = []
    for kind, name in PROMPTS.items():
        try:
            samples = decode(folder / "prompts" / name, rate, max_seconds=30)
        except DecodeError as e:
            problems.append(f"assets_dir: bundled prompt {e}")
            continue
        sounds[kind] = Sound(kind, samples, len(samples) / rate)
    if problems:
        raise ConfigError(problems)
    return sounds
