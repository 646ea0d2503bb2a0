"""G.711 μ-law decoding by table: 8-bit codes to float32 samples in -1..1."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BIAS = 0x84


def _table() -> npt.NDArray[np.float32]:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    magnitude = (((u & 0x0F) << 3) + BIAS) << exponent
    pcm = np.where(u & 0x80, BIAS - magnitude, magnitude - BIAS)
    return (pcm / 32768.0).astype(np.float32)


TABLE = _table()


def decode(codes: bytes) -> npt.NDArray[np.float32]:
    decoded: npt.NDArray[np.float32] = TABLE[np.frombuffer(codes, dtype=np.uint8)]
    return decoded
