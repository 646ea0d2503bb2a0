"""Turn a core clip-set folder into booth-ready targets: checked, loudness-normalised, Opus.

All or nothing: every file is decoded and checked before anything is written, and a problem
names the file. A clip whose source bytes and settings were published before is reused from the
signed targets metadata (its `custom.source_sha256`), so it is never encoded or uploaded again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyloudnorm
import soundfile as sf
import soxr
from tuf.api.metadata import TargetFile

from kiosk.audio.decode import decode
from kiosk.clips.clipset import ClipSet, load_clipset
from kiosk.content.manifest import ManifestClip
from kiosk.errors import DecodeError, KioskError

log = logging.getLogger(__name__)
RATE = 48000


class PublishError(KioskError, ValueError):
    """The folder cannot be published; `problems` names every bad file."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Loudness:
    """ITU-R BS.1770 integrated loudness target and true-peak ceiling."""

    lufs: float = -20.0
    true_peak_dbtp: float = -1.0
    max_seconds: float = 600.0


@dataclass(frozen=True)
class EncodedClip:
    """A clip ready to publish: its manifest entry, and new bytes unless reused."""

    entry: ManifestClip
    data: bytes | None  # None: the repository already has this target
    custom: dict[str, object]


def read_folder(folder: Path, today: dt.date) -> tuple[ClipSet, list[str]]:
    """The clip set, minus clips whose consent has ended (each gives a warning)."""
    clipset = load_clipset(folder)
    warnings = []
    kept = []
    for clip in clipset.clips:
        if clip.expires is not None and clip.expires < today:
            warnings.append(f"{folder / clip.file}: consent expired {clip.expires}; left out")
        else:
            kept.append(clip)
    return ClipSet(clipset.name, tuple(kept), folder), warnings


def encode_set(
    clipset: ClipSet, existing: dict[str, TargetFile], loudness: Loudness
) -> list[EncodedClip]:
    """Check, normalise and encode every clip. Raises PublishError naming every bad file."""
    by_source = _by_source(existing)
    problems: list[str] = []
    out: list[EncodedClip] = []
    for clip in clipset.clips:
        path = clipset.path_of(clip)
        try:
            source = path.read_bytes()
        except OSError as e:
            problems.append(f"{path}: cannot read: {e.strerror}")
            continue
        key = source_key(source, loudness)
        stem = Path(clip.file).stem
        fields = {
            "file": f"{stem}.opus",
            "title": clip.title,
            "speaker": clip.speaker,
            "weight": clip.weight,
            "not_before": clip.not_before,
            "expires": clip.expires,
            "dayparts": clip.dayparts,
        }
        reused = by_source.get(key)
        if reused is not None:
            entry = ManifestClip(target=reused.path, **fields)  # type: ignore[arg-type]
            out.append(EncodedClip(entry, None, dict(reused.custom)))
            continue
        try:
            samples = decode(path, RATE, loudness.max_seconds)
            data, measured = _normalise_and_encode(samples, loudness)
        except DecodeError as e:
            problems.append(f"{path}: {e.reason}")
            continue
        except (ValueError, RuntimeError) as e:
            problems.append(f"{path}: cannot normalise or encode: {e}")
            continue
        sha = hashlib.sha256(data).hexdigest()
        custom: dict[str, object] = {
            "source_sha256": key,
            "source_file_sha256": hashlib.sha256(source).hexdigest(),
            "duration_ms": len(samples) * 1000 // RATE,
            **measured,
        }
        entry = ManifestClip(target=f"clips/{sha}.opus", **fields)  # type: ignore[arg-type]
        out.append(EncodedClip(entry, data, custom))
    if problems:
        raise PublishError(problems)
    return out


def source_key(source: bytes, loudness: Loudness) -> str:
    """The targets' `custom.source_sha256`: the source bytes under these loudness settings."""
    settings = f"{loudness.lufs:g}/{loudness.true_peak_dbtp:g}/opus48k".encode()
    return hashlib.sha256(settings + b"\0" + source).hexdigest()


def _by_source(existing: dict[str, TargetFile]) -> dict[str, TargetFile]:
    found = {}
    for info in existing.values():
        key = info.custom.get("source_sha256") if isinstance(info.custom, dict) else None
        if isinstance(key, str):
            found[key] = info
    return found


def _normalise_and_encode(samples: np.ndarray, loudness: Loudness) -> tuple[bytes, dict[str, str]]:
    meter = pyloudnorm.Meter(RATE)
    # BS.1770 gating needs at least one 400 ms block: pad short clips with silence to measure.
    padded = samples if len(samples) >= RATE // 2 else np.pad(samples, (0, RATE // 2))
    measured = float(meter.integrated_loudness(padded.astype(np.float64)))
    if not np.isfinite(measured):
        raise ValueError("loudness cannot be measured (too quiet)")
    gain = 10 ** ((loudness.lufs - measured) / 20)
    out = samples.astype(np.float64) * gain
    peak = _true_peak(out)
    ceiling = 10 ** (loudness.true_peak_dbtp / 20)
    if peak > ceiling:
        out *= ceiling / peak
        peak = ceiling
    buffer = io.BytesIO()
    sf.write(buffer, out.astype(np.float32), RATE, format="OGG", subtype="OPUS")
    # TUF's canonical JSON has no floats: the measurements travel as text.
    result = float(meter.integrated_loudness(np.pad(out, (0, RATE // 2))))
    stats = {
        "source_loudness": f"{measured:.2f} LUFS",
        "loudness": f"{result:.2f} LUFS",
        "true_peak": f"{20 * float(np.log10(max(peak, 1e-9))):.2f} dBTP",
    }
    return buffer.getvalue(), stats


def _true_peak(x: np.ndarray) -> float:
    """BS.1770-4 true peak: the sample peak after 4x oversampling."""
    return float(np.max(np.abs(soxr.resample(x, RATE, RATE * 4, quality="HQ"))))
