"""`kiosk-hub serve --rate-limit NAME=RATE`: overrides checked before the hub starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.cli import main
from hub.ratelimit import RateLimits


def test_an_override_changes_only_the_limit_it_names() -> None:
    limits = RateLimits().with_overrides(["heartbeats=60/minute", " events = 2000/minute "])
    assert limits == RateLimits(heartbeats="60/minute", events="2000/minute")


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ("hearbeats=60/minute", "NAME one of login_failures, enroll_failures, events, heartbeats"),
        ("heartbeats", "expected NAME=RATE"),
        ("heartbeats=lots", "'lots' is not a rate such as 10/minute"),
        ("heartbeats=0/minute", "'0/minute' is not a rate"),
        ("heartbeats=", "'' is not a rate"),
        ("events=999/minute", "at least 1000 events per window"),  # a full upload never fits
    ],
)
def test_a_bad_override_is_refused_with_what_is_wrong(override: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as refused:
        RateLimits().with_overrides([override])
    assert repr(override) in str(refused.value)


def test_serve_refuses_a_bad_rate_limit_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["serve", "--data", str(tmp_path), "--rate-limit", "events=often"])
    assert code == 64
    assert "--rate-limit 'events=often': 'often' is not a rate" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing made: not even the admin token
