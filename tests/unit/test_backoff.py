"""kiosk.backoff: the waits between a failing link's retries."""

from __future__ import annotations

from kiosk.backoff import Backoff


def test_waits_double_up_to_the_cap() -> None:
    backoff = Backoff(cap=10.0)
    assert [backoff.wait_after(0.5) for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_a_try_that_stayed_up_starts_again_from_the_first_wait() -> None:
    backoff = Backoff(cap=30.0, first=2.0, stable_s=60.0)
    assert [backoff.wait_after(1.0) for _ in range(3)] == [2.0, 4.0, 8.0]
    assert backoff.wait_after(59.9) == 16.0
    assert backoff.wait_after(60.0) == 2.0
    assert backoff.wait_after(0.0) == 4.0


def test_a_cap_below_the_first_wait_is_the_first_wait() -> None:
    backoff = Backoff(cap=0.5, first=1.0)
    assert [backoff.wait_after(0.0) for _ in range(3)] == [1.0, 1.0, 1.0]
