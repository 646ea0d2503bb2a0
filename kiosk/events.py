"""What happened: the inputs the main loop feeds to the session. Frozen, cheap, thread-safe."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kiosk.clips.clipset import Clip

# "connecting" and "call_ended" are the live-call cues (kiosk/live).
# "guide" and "rating" are the dial's prompts (kiosk/dial).
SoundKind = Literal[
    "clip", "no_stories", "end_tone", "hang_up", "connecting", "call_ended", "guide", "rating"
]


@dataclass(frozen=True, eq=False)
class Sound:
    """Decoded audio ready for the mixer, plus what it is. Identity is the object itself."""

    kind: SoundKind
    samples: object  # numpy float32 array at the device rate; opaque to the session
    duration_s: float
    clip: Clip | None = None
    set_name: str = ""


@dataclass(frozen=True)
class HookEdge:
    """A raw edge from the hook switch (gpiozero thread): level after the edge."""

    off_hook: bool
    t: float


@dataclass(frozen=True)
class Lifted:
    """A debounced lift at monotonic time `t` (the first edge's time)."""

    t: float


@dataclass(frozen=True)
class HungUp:
    """A debounced hang-up at monotonic time `t`."""

    t: float


@dataclass(frozen=True, eq=False)
class SoundFinished:
    """The audio thread copied the last sample of `sound`."""

    sound: Sound


@dataclass(frozen=True, eq=False)
class Prepared:
    """The preparer decoded the next sound to play (a clip, or the no-stories prompt);
    `asked`: the clip a dialed digit asked for (PrepareNewest), not the rotation's next."""

    sound: Sound
    asked: bool = False


@dataclass(frozen=True)
class ClipUnplayable:
    """The preparer skipped a clip it could not decode."""

    file: str
    reason: str


@dataclass(frozen=True)
class AudioLost:
    """The output stream failed or stopped by itself."""

    reason: str


@dataclass(frozen=True)
class AudioBack:
    """The output stream is open again."""

    device: str


@dataclass(frozen=True)
class Tick:
    """Time passed; the session checks its deadlines."""

    t: float


@dataclass(frozen=True)
class SyncReady:
    """The sync thread staged a complete, verified set folder, ready to activate on-hook."""

    folder: Path
    set_name: str
    version: int
    downloaded_bytes: int


@dataclass(frozen=True)
class SyncFailed:
    """A sync ended without a new set; the active set keeps playing."""

    state: str  # "stale" (expired metadata) or "error"
    reason: str


@dataclass(frozen=True)
class UpdateProgress:
    """The sync thread's software-update state (kiosk.update): idle, downloading, staged or
    failed; `version` the release concerned; `at` the wall time (Unix s) it changed."""

    state: str
    version: str = ""
    reason: str = ""
    at: float = 0.0


@dataclass(frozen=True)
class ConsentPurged:
    """The sync thread deleted retired clips (the consent register) from the disk."""

    removed: tuple[str, ...]  # paths under the state directory
    active_files: tuple[str, ...]  # clips of the active set that must not play again


@dataclass(frozen=True)
class Healed:
    """The sync thread found files of a set changed on the disk (a worn SD card, a power cut):
    their bad bytes are deleted at once (never played) and the files fetched again."""

    set_name: str
    files: tuple[str, ...]  # the set's file names (a clip, or clipset.yaml)


@dataclass(frozen=True)
class SetChanged:
    """A new set is active: sounds decoded from the old one are dropped."""


@dataclass(frozen=True)
class DialEdge:
    """A raw edge of a rotary dial's contact (gpiozero thread): `active` is True while the
    pulse contact breaks, or while the off-normal contact says the dial is away from rest."""

    contact: Literal["pulse", "off_normal"]
    active: bool
    t: float


@dataclass(frozen=True)
class Dialed:
    """A digit dialed ("0".."9"; a keypad also has "*" and "#") at monotonic time `t`."""

    digit: str
    kind: Literal["rotary", "keypad"]
    t: float
