"""Rotary-dial pulse trains to digits: pure logic, fed raw edges and the time by the main loop.

A contact's level counts only once it has held for `debounce_s` (shorter runs are bounce), so
a break or make is dated by its first edge and decided `debounce_s` later (`deadline()`). A
dial sends 7-13 pulses a second with break/make from 55/45 to 70/30: the shortest make (13 pps
at 70/30) is 23 ms, well above the default 5 ms filter.

A digit is the number of breaks between the off-normal contact closing and opening again (10
means 0); its first edge back to rest ends the digit at once. Without an off-normal contact,
it ends after `gap_s` of make after the last break. Breaks while the dial is at rest are
noise; a dial turned and let go before the first pulse dials nothing.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

MAX_PULSES = 10


@dataclass
class Contact:
    """One contact's glitch filter: `stable` changes only after `raw` held for the filter."""

    stable: bool = False
    raw: bool = False
    since: float = -math.inf  # when `raw` began

    def pending(self, debounce_s: float) -> float | None:
        """When the raw level will count, if it differs from the stable one."""
        return self.since + debounce_s if self.raw != self.stable else None


@dataclass
class PulseDecoder:
    """Owned by the main loop: `edge()` and `settle()` return the digits completed."""

    debounce_s: float
    gap_s: float
    has_off_normal: bool = True
    pulse: Contact = field(default_factory=Contact)
    off_normal: Contact = field(default_factory=Contact)
    pulses: int = 0
    last_make: float | None = None  # end of the last counted break (no off-normal contact)
    ended_at: float = 0.0  # when the last digit ended: the dial at rest, or the gap over

    def deadline(self) -> float | None:
        """The next monotonic time `settle()` has something to decide."""
        times = [c.pending(self.debounce_s) for c in (self.pulse, self.off_normal)]
        if not self.has_off_normal and self.last_make is not None and not self.pulse.stable:
            times.append(self.last_make + self.gap_s)
        return min((t for t in times if t is not None), default=None)

    def edge(self, contact: str, active: bool, t: float) -> list[str]:
        """A raw edge of "pulse" or "off_normal" at monotonic `t`."""
        digits = self.settle(t)
        c = self.pulse if contact == "pulse" else self.off_normal
        if c is self.off_normal and self._at_rest_now(active):
            c.raw = c.stable = False
            c.since = t
            return digits + self._end_digit(t)
        if active != c.raw:  # (settle() decided the level before it, if it held)
            c.raw, c.since = active, t
        return digits

    def _at_rest_now(self, off_normal: bool) -> bool:
        """The off-normal contact's first edge back to rest ends a digit at once (as the hook's
        first edge acts at once): pulses were counted and the pulse contact is made. Should it
        bounce, the next turn starts with no pulses and dials nothing."""
        made = not self.pulse.raw and not self.pulse.stable
        return not off_normal and self.off_normal.stable and self.pulses > 0 and made

    def settle(self, now: float) -> list[str]:
        """Decide every level that has held long enough by `now`, oldest first."""
        digits: list[str] = []
        while True:
            due = [
                (c.since, c)
                for c in (self.pulse, self.off_normal)
                if (at := c.pending(self.debounce_s)) is not None and at <= now
            ]
            if not due:
                break
            digits += self._commit(min(due, key=lambda d: d[0])[1])
        gap_over = self.last_make is not None and now >= self.last_make + self.gap_s
        if not self.has_off_normal and gap_over and not self.pulse.stable:
            assert self.last_make is not None
            digits += self._end_digit(self.last_make + self.gap_s)
        return digits

    def _commit(self, c: Contact) -> list[str]:
        c.stable = c.raw
        if c is self.off_normal:
            if c.stable:  # the dial left its rest: a new digit starts
                self.pulses = 0
                return []
            return self._end_digit(c.since)
        if c.stable:  # a break
            if self.has_off_normal and not self.off_normal.stable:
                log.debug("dial: a break at rest ignored (noise)")
                return []
            self.pulses += 1
            self.last_make = None
        elif self.pulses:
            self.last_make = c.since
        return []

    def _end_digit(self, t: float) -> list[str]:
        n, self.pulses, self.last_make, self.ended_at = self.pulses, 0, None, t
        if n == 0:
            return []  # turned and let go before the first pulse
        if n > MAX_PULSES:
            log.warning("dial: %d pulses in one turn is no digit (noise on the pulse line?)", n)
            return []
        return [str(n % 10)]
