"""systemd/kiosk-update.service and .path with the real systemd-analyze: verify and security."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.update.supervisor import SystemdSupervisor
from tests.integration.test_systemd_unit import (
    DEFAULT_DEPENDENCIES,
    MAX_EXPOSURE,
    REFERENCE_KEYS,
    UnitRoot,
    analyze,
    exec_start_binary,
    needs_analyze,
    parse_unit,
    values,
    verify,
)

REPO = Path(__file__).resolve().parents[2]
SYSTEMD = REPO / "systemd"
UNITS = ("kiosk-update.service", "kiosk-update.path")


def update_root(tmp_path: Path) -> Path:
    """The committed units, unchanged, in a root with stubs for what they reference."""
    root = tmp_path / "root"
    system = root / "etc" / "systemd" / "system"
    stubs = root / "usr" / "lib" / "systemd" / "system"
    system.mkdir(parents=True)
    stubs.mkdir(parents=True)
    referenced = set(DEFAULT_DEPENDENCIES)
    for name in UNITS:
        text = (SYSTEMD / name).read_text()
        (system / name).write_text(text)
        entries = parse_unit(text)
        for key in REFERENCE_KEYS:
            for value in values(entries, key):
                referenced.update(value.split())
    for name in sorted(referenced - set(UNITS)):
        (stubs / name).write_text(f"[Unit]\nDescription=Stub {name}\n")
    service = parse_unit((SYSTEMD / UNITS[0]).read_text())
    binary = root / exec_start_binary(service).lstrip("/")
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    return root


@needs_analyze
@pytest.mark.parametrize("name", UNITS)
def test_the_update_units_verify_cleanly(tmp_path: Path, name: str) -> None:
    root = update_root(tmp_path)
    result = verify(UnitRoot(root, root / "etc" / "systemd" / "system" / name))
    assert result.returncode == 0 and result.stderr == "", result.stderr


@needs_analyze
def test_the_helper_is_sandboxed(tmp_path: Path) -> None:
    root = update_root(tmp_path)
    unit = root / "etc" / "systemd" / "system" / UNITS[0]
    result = analyze("security", "--no-pager", "--offline=yes", f"--root={root}", str(unit))
    match = re.search(
        r"Overall exposure level for kiosk-update\.service: (\d+\.\d+)", result.stdout
    )
    assert match, result.stdout + result.stderr
    print(f"kiosk-update.service exposure: {match.group(1)}")
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout


def test_the_helper_writes_only_opt_kiosk_and_its_state() -> None:
    entries = parse_unit((SYSTEMD / UNITS[0]).read_text())
    assert values(entries, "ProtectSystem") == ["strict"]
    assert values(entries, "ReadWritePaths") == ["/opt/kiosk"]
    assert values(entries, "StateDirectory") == ["kiosk-update"]
    assert values(entries, "CapabilityBoundingSet") == ["CAP_DAC_READ_SEARCH"]
    path = parse_unit((SYSTEMD / UNITS[1]).read_text())
    assert values(path, "PathChanged") == ["/var/lib/kiosk/update/request"]


NOTIFY_SERVICE = """
import os, socket, time
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
address = os.environ["NOTIFY_SOCKET"]
sock.connect("\\0" + address[1:] if address.startswith("@") else address)
sock.send(b"READY=1")
time.sleep(3600)
"""


@pytest.mark.skipif(
    not Path("/run/systemd/system").is_dir() or os.geteuid() != 0,
    reason="systemd is not PID 1 here (a container) or not root: the systemd supervisor path "
    "needs a running systemd; tests/supervisor.py stands in for it elsewhere",
)
def test_the_systemd_supervisor_restarts_a_notify_service_and_sees_ready() -> None:
    """SystemdSupervisor against the real systemd, on a transient Type=notify service."""
    unit = "kiosk-update-supervisor-test.service"
    properties = ["-p", "Type=notify", "-p", "NotifyAccess=all"]
    started = subprocess.run(
        ["systemd-run", f"--unit={unit}", *properties, sys.executable, "-c", NOTIFY_SERVICE],
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    supervisor = SystemdSupervisor(unit)
    try:
        assert supervisor.health().ready
        before = supervisor.health().restarts
        supervisor.restart()
        end = time.monotonic() + 30
        while not (health := supervisor.health()).ready:
            assert time.monotonic() < end, health
            time.sleep(0.1)
        assert health.restarts == before  # a restart asked for is not one systemd counts
    finally:
        subprocess.run(["systemctl", "stop", unit], check=False)
