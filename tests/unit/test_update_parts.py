"""kiosk.update's pure parts: which wheels fit, the heartbeat's update fields, the hook file,
the helper's status file, and the update.* config keys. The real download runs in
tests/integration/test_release_download.py."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from packaging.tags import Tag

from kiosk.config import parse_config
from kiosk.errors import ConfigError
from kiosk.fleet.status import BoothStatus
from kiosk.release.manifest import Wheel
from kiosk.update.choose import NoWheel, choose, fits_python
from kiosk.update.helper import HelperStatus, read_status, update_fields
from kiosk.update.hookfile import HookFile

ARM = [Tag("cp311", "cp311", "linux_armv7l"), Tag("py3", "none", "any")]
AARCH64 = [Tag("cp311", "cp311", "manylinux_2_17_aarch64"), Tag("py3", "none", "any")]


def wheel(file: str) -> Wheel:
    return Wheel(file, "0" * 64, 1)


def test_the_most_specific_wheel_of_each_distribution() -> None:
    wheels = [
        wheel("kiosk-2.0-py3-none-any.whl"),
        wheel("pydantic_core-2.1-cp311-cp311-linux_armv7l.whl"),
        wheel("pydantic_core-2.1-cp311-cp311-manylinux_2_17_aarch64.whl"),
        wheel("Dep_Two-1.0-py3-none-any.whl"),
    ]
    arm = [w.file for w in choose(wheels, ARM)]
    assert arm == [
        "Dep_Two-1.0-py3-none-any.whl",
        "kiosk-2.0-py3-none-any.whl",
        "pydantic_core-2.1-cp311-cp311-linux_armv7l.whl",
    ]
    assert "pydantic_core-2.1-cp311-cp311-manylinux_2_17_aarch64.whl" in [
        w.file for w in choose(wheels, AARCH64)
    ]


def test_a_distribution_without_a_fitting_wheel_is_named() -> None:
    with pytest.raises(NoWheel, match="pydantic-core: no wheel"):
        choose([wheel("pydantic_core-2.1-cp311-cp311-linux_armv7l.whl")], AARCH64)


def test_a_release_of_pure_wheels_fits_any_python_3() -> None:
    # kiosk-admin release says "3" when every wheel is pure (py3-none-any).
    assert fits_python("3", (3, 11)) and fits_python("3.11", (3, 11))
    assert not fits_python("3.12", (3, 11)) and not fits_python("2", (3, 11))


def status(state: str, at: float) -> BoothStatus:
    return BoothStatus(update_state=state, update_version="2.1.0", update_at=at)


@pytest.mark.parametrize(
    ("own", "helper", "shown"),
    [
        (status("downloading", 100), None, "downloading"),
        (status("staged", 100), HelperStatus("applying", "2.1.0", at=101), "applying"),
        (status("staged", 100), HelperStatus("idle", "2.0.0", at=50), "staged"),
        (status("idle", 100), HelperStatus("probation", "2.1.0", at=50), "probation"),
        (status("failed", 200), HelperStatus("rolled_back", "2.1.0", at=150), "failed"),
    ],
)
def test_the_helper_state_shows_once_newer_than_the_daemons(
    own: BoothStatus, helper: HelperStatus | None, shown: str
) -> None:
    assert update_fields(own, helper)["update_state"] == shown


def test_the_helper_status_file(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    assert read_status(path) is None
    path.write_text("{not json")
    assert read_status(path) is None
    doc = {"state": "rolled_back", "version": "2.1.0", "reason": "no ready", "bad": ["2.1.0"]}
    path.write_text(json.dumps({**doc, "running": "2.0.0", "at": 1700000000}))
    assert read_status(path) == HelperStatus(
        "rolled_back", "2.1.0", "2.0.0", "no ready", ("2.1.0",), 1700000000.0
    )


def test_the_hook_file_is_0644_and_a_missing_folder_is_harmless(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = os.umask(0o077)
    try:
        hook = HookFile(tmp_path / "hook")
        hook.write(True)
        assert (tmp_path / "hook").read_bytes() == b"on\n"
        hook.write(False)
        assert (tmp_path / "hook").read_bytes() == b"off\n"
        assert stat.S_IMODE((tmp_path / "hook").stat().st_mode) == 0o644
    finally:
        os.umask(old)
    gone = HookFile(tmp_path / "missing" / "hook")
    gone.write(True)
    gone.write(False)
    gone.write(True)
    assert len([r for r in caplog.records if "update.hook_file" in r.getMessage()]) == 1


def test_update_config_keys() -> None:
    config = parse_config("update:\n  enabled: false\n  hook_file: /tmp/hook\n")
    assert (config.update.enabled, config.update.hook_file) == (False, "/tmp/hook")
    assert config.update.status_file == "/var/lib/kiosk-update/status.json"
    with pytest.raises(ConfigError) as e:
        parse_config("update:\n  enabeld: true\n", "k.yaml")
    assert "k.yaml:2: update.enabeld" in e.value.problems[0]
