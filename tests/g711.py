"""G.711 mu-law and A-law (ITU-T G.711) in numpy, for the raw files sipp's rtp_stream sends."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Int16 = npt.NDArray[np.int16]
Bytes = npt.NDArray[np.uint8]

_ULAW_BIAS = 0x84
_ULAW_CLIP = 32635


def to_int16(samples: npt.ArrayLike) -> Int16:
    """Float -1..1 to 16-bit PCM."""
    x = np.clip(np.asarray(samples, dtype=np.float64), -1.0, 1.0)
    return np.round(x * 32767).astype(np.int16)


def ulaw_encode(pcm: Int16) -> Bytes:
    s = pcm.astype(np.int32)
    sign = np.where(s < 0, 0x80, 0)
    mag = np.minimum(np.abs(s), _ULAW_CLIP) + _ULAW_BIAS
    exponent = np.clip(np.floor(np.log2(mag)).astype(np.int32) - 7, 0, 7)
    mantissa = (mag >> (exponent + 3)) & 0x0F
    codes: Bytes = (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)
    return codes


def ulaw_decode(codes: Bytes) -> Int16:
    u = ~codes.astype(np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mag = (((u & 0x0F) << 3) + _ULAW_BIAS) << exponent
    return np.where(u & 0x80, _ULAW_BIAS - mag, mag - _ULAW_BIAS).astype(np.int16)


def alaw_encode(pcm: Int16) -> Bytes:
    s = pcm.astype(np.int32) >> 3  # A-law works on 13 bits
    sign = np.where(s >= 0, 0x80, 0)
    mag = np.minimum(np.where(s < 0, -s - 1, s), 0xFFF)
    exponent = np.clip(np.floor(np.log2(np.maximum(mag, 1))).astype(np.int32) - 4, 0, 7)
    mantissa = np.where(exponent == 0, mag >> 1, mag >> exponent) & 0x0F
    codes: Bytes = ((sign | (exponent << 4) | mantissa) ^ 0x55).astype(np.uint8)
    return codes


def alaw_decode(codes: Bytes) -> Int16:
    a = codes.astype(np.int32) ^ 0x55
    exponent = (a >> 4) & 0x07
    mantissa = a & 0x0F
    mag = np.where(exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << (exponent - 1))
    return np.where(a & 0x80, mag, -mag).astype(np.int16)
