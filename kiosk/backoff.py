"""Waits between retries of a link that keeps failing: 1 s, 2 s, 4 s ... up to a cap, and back
to the first wait once a try had stayed up a while (a link that worked is not a link that
keeps failing)."""

from __future__ import annotations


class Backoff:
    """Doubling waits from `first` up to `cap`; the next try after one that lasted `stable_s`
    or more waits `first` again."""

    def __init__(self, cap: float, first: float = 1.0, stable_s: float = 60.0) -> None:
        self.first = first
        self.cap = max(cap, first)
        self.stable_s = stable_s
        self._next = first

    def wait_after(self, ran_s: float) -> float:
        """The wait before the next try, after a try that ran `ran_s` seconds."""
        if ran_s >= self.stable_s:
            self._next = self.first
        wait = self._next
        self._next = min(self._next * 2, self.cap)
        return wait
