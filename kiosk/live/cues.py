"""The two live-call cues, synthesised at the device rate: a rising two-note chime on lift
("connecting"), a falling one when the far end hangs up ("call ended").

Short on purpose (0.26 s): the chime is over before a PBX that answers at once has audio
flowing, so no word is ever cut; a spoken cue would be cut mid-word or delay the call.
"""

from __future__ import annotations

import numpy as np

from kiosk.events import Sound, SoundKind

NOTE_S = 0.12
GAP_S = 0.02
PEAK = 10 ** (-14 / 20)  # -14 dBFS: softer than speech at the ear
NOTES_HZ = (660.0, 880.0)  # a fifth apart: reads as "ding-dong" both ways


def chime(kind: SoundKind, rate: int) -> Sound:
    """Rising for "connecting", falling for anything else."""
    notes = NOTES_HZ if kind == "connecting" else NOTES_HZ[::-1]
    n = round(NOTE_S * rate)
    t = np.arange(n) / rate
    envelope = np.sin(np.pi * np.arange(n) / n) ** 2  # raised cosine: no click at either end
    parts = []
    for hz in notes:
        parts += [PEAK * envelope * np.sin(2 * np.pi * hz * t), np.zeros(round(GAP_S * rate))]
    samples = np.concatenate(parts).astype(np.float32)
    return Sound(kind, samples, len(samples) / rate)
