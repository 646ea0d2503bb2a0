"""fleet.json: written 0600 and atomically; a bad one is an error naming the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.errors import ConfigError
from kiosk.fleet import identity
from kiosk.fleet.identity import Identity


def test_round_trip_0600_and_no_secret_in_repr(tmp_path: Path) -> None:
    me = Identity("https://hub.example.com", "b1", "s3cret")
    path = identity.save(tmp_path, me)
    assert path.stat().st_mode & 0o777 == 0o600
    assert identity.load(tmp_path) == me
    assert "s3cret" not in repr(me)
    assert identity.load(tmp_path / "nowhere") is None


def test_bad_file_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "fleet.json").write_text('{"hub": "h", "booth_id": 3}')
    with pytest.raises(ConfigError) as e:
        identity.load(tmp_path)
    assert e.value.problems == [
        f"{tmp_path}/fleet.json: booth_id: expected a non-empty string",
        f"{tmp_path}/fleet.json: credential: expected a non-empty string",
    ]
