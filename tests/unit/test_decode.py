"""Decoding real files of every supported format, and every way a file can be bad."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from kiosk.audio.decode import decode
from kiosk.errors import DecodeError
from tests.clipmaker import voice


@pytest.mark.parametrize(
    ("name", "fmt", "subtype"),
    [
        ("a.wav", "WAV", "PCM_16"),
        ("a.flac", "FLAC", "PCM_16"),
        ("a.ogg", "OGG", "VORBIS"),
        ("a.opus", "OGG", "OPUS"),
        ("a.mp3", "MP3", "MPEG_LAYER_III"),
    ],
)
def test_formats_decode_and_resample(tmp_path: Path, name: str, fmt: str, subtype: str) -> None:
    rate_in = 48000 if subtype == "OPUS" else 24000
    src = voice(1, 1.0, rate=rate_in)
    stereo = np.stack([src, src], axis=1)
    sf.write(tmp_path / name, stereo, rate_in, format=fmt, subtype=subtype)
    out = decode(tmp_path / name, 48000, max_seconds=10)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    assert abs(len(out) - 48000) < 48000 * 0.05  # 1 s at the device rate (codec padding aside)
    assert out[0] == 0.0 and abs(out[-1]) < 1e-3  # edges ramped: no click
    reference = soxr.resample(src, rate_in, 48000)
    n = min(len(out), len(reference))
    if fmt in ("WAV", "FLAC"):
        corr = np.corrcoef(out[1000 : n - 1000], reference[1000 : n - 1000])[0, 1]
        assert corr > 0.95


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "cannot decode"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt garbage garbage", "cannot decode"),
        (b"this is not audio at all" * 100, "cannot decode"),
    ],
)
def test_corrupt_files(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(DecodeError) as e:
        decode(path, 48000, 10)
    assert str(path) in str(e.value) and reason in e.value.reason


def test_truncated_ogg(tmp_path: Path) -> None:
    path = tmp_path / "t.ogg"
    sf.write(path, voice(2, 2.0), 48000, format="OGG", subtype="VORBIS")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DecodeError):
        decode(path, 48000, 10)


def test_empty_silent_and_too_long(tmp_path: Path) -> None:
    sf.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 48000)
    sf.write(tmp_path / "silent.wav", np.zeros(48000, dtype=np.float32), 48000)
    sf.write(tmp_path / "long.wav", voice(3, 3.0), 48000)
    with pytest.raises(DecodeError, match="empty"):
        decode(tmp_path / "empty.wav", 48000, 10)
    with pytest.raises(DecodeError, match="silent"):
        decode(tmp_path / "silent.wav", 48000, 10)
    with pytest.raises(DecodeError, match=r"too long: 3 s > clips\.max_seconds 2 s"):
        decode(tmp_path / "long.wav", 48000, 2)


def test_missing_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(DecodeError, match="cannot decode"):
        decode(tmp_path / "nope.ogg", 48000, 10)
    folder = tmp_path / "dir.wav"
    folder.mkdir()
    with pytest.raises(DecodeError):
        decode(folder, 48000, 10)
