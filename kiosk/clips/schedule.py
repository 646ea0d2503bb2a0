"""When a clip may play: consent window (not_before, expires) and dayparts, in local time."""

from __future__ import annotations

import datetime as dt

from kiosk.clips.clipset import Clip


def is_eligible(clip: Clip, now: dt.datetime) -> bool:
    """True if `clip` may play at local wall time `now` (dates inclusive)."""
    today = now.date()
    if clip.not_before is not None and today < clip.not_before:
        return False
    if clip.expires is not None and today > clip.expires:
        return False
    return not clip.dayparts or in_dayparts(clip.dayparts, now)


def in_dayparts(parts: tuple[str, ...], now: dt.datetime) -> bool:
    """True if local wall time `now` falls in any "HH:MM-HH:MM" range of `parts`."""
    minute = now.hour * 60 + now.minute
    return any(_in_daypart(part, minute) for part in parts)


def _in_daypart(part: str, minute: int) -> bool:
    start_s, end_s = part.split("-")
    start, end = _minutes(start_s), _minutes(end_s)
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end  # wraps midnight, e.g. 22:00-02:00


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)
