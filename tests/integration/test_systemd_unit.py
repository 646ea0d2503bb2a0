"""Check systemd/kiosk.service with the real systemd-analyze: it verifies cleanly and is hardened.

`systemd-analyze verify` on the host would load the host's own units too (every unit our unit
pulls in, recursively) and report their problems, and it wants ExecStart= to exist. So the unit
is verified inside a throw-away root (`--root=`) that holds only our unit, stub units for
everything it references, and a stub executable at the exact ExecStart= path: the file under
test is byte-for-byte the committed one, and stderr has to be empty.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "kiosk.service"
UNIT_NAME = UNIT.name
ANALYZE = shutil.which("systemd-analyze")
MAX_EXPOSURE = 3.0

needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")

# Every service gets these through DefaultDependencies=yes.
DEFAULT_DEPENDENCIES = ("sysinit.target", "basic.target", "shutdown.target")
REFERENCE_KEYS = ("After", "Before", "Wants", "Requires", "Requisite", "BindsTo", "WantedBy")


def parse_unit(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) for every assignment; keys may repeat, unlike configparser."""
    entries: list[tuple[str, str, str]] = []
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not an assignment: {raw!r}"
        entries.append((section, key.strip(), value.strip()))
    return entries


def values(entries: list[tuple[str, str, str]], key: str) -> list[str]:
    """All values assigned to `key`, in order."""
    return [v for _, k, v in entries if k == key]


def exec_start_binary(entries: list[tuple[str, str, str]]) -> str:
    """The absolute path ExecStart= runs, without systemd's -@:+! prefixes."""
    (cmdline,) = values(entries, "ExecStart")
    binary = cmdline.split()[0].lstrip("-@:+!")
    assert binary.startswith("/"), f"ExecStart must use an absolute path, got {binary!r}"
    return binary


@dataclass(frozen=True)
class UnitRoot:
    """A minimal file-system root holding the unit under test."""

    root: Path
    unit: Path


def build_root(tmp_path: Path, unit_text: str) -> UnitRoot:
    """Lay out `unit_text` as /etc/systemd/system/kiosk.service under a fresh root."""
    root = tmp_path / "root"
    system = root / "etc" / "systemd" / "system"
    stubs = root / "usr" / "lib" / "systemd" / "system"
    system.mkdir(parents=True)
    stubs.mkdir(parents=True)
    unit = system / UNIT_NAME
    unit.write_text(unit_text, encoding="utf-8")

    entries = parse_unit(unit_text)
    referenced = set(DEFAULT_DEPENDENCIES)
    for key in REFERENCE_KEYS:
        for value in values(entries, key):
            referenced.update(value.split())
    for name in sorted(referenced - {UNIT_NAME}):
        stub = stubs / name
        stub.write_text(f"[Unit]\nDescription=Stub {name} for the kiosk unit test\n")

    binary = root / exec_start_binary(entries).lstrip("/")
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    binary.chmod(0o755)
    return UnitRoot(root=root, unit=unit)


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    """Run systemd-analyze with a quiet, colourless, non-paging environment."""
    assert ANALYZE is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYSTEMD_")}
    env.update(SYSTEMD_COLORS="0", SYSTEMD_PAGER="cat", LC_ALL="C.UTF-8")
    return subprocess.run(
        [ANALYZE, *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=env,
        timeout=120,
        check=False,
    )


def verify(unit_root: UnitRoot) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze verify` on the unit inside its root."""
    return analyze(
        "verify",
        "--man=no",
        "--recursive-errors=yes",
        f"--root={unit_root.root}",
        str(unit_root.unit),
    )


@pytest.fixture
def unit_root(tmp_path: Path) -> UnitRoot:
    """The committed unit file, unchanged, inside a minimal root."""
    return build_root(tmp_path, UNIT.read_text(encoding="utf-8"))


@needs_analyze
def test_unit_verifies_cleanly(unit_root: UnitRoot) -> None:
    result = verify(unit_root)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr


@needs_analyze
def test_verify_would_report_mistakes(tmp_path: Path) -> None:
    """Guards the test above: the stub root must not hide problems in our unit."""
    text = UNIT.read_text(encoding="utf-8")
    broken = text.replace("RestartSec=2s", "RestartSec=two").replace(
        "[Install]", "ProtectSystm=strict\n\n[Install]"
    )
    assert broken != text
    unit_root = build_root(tmp_path, broken)
    missing = unit_root.root / exec_start_binary(parse_unit(text)).lstrip("/")
    missing.unlink()

    result = verify(unit_root)
    assert result.returncode != 0
    assert "Failed to parse sec value" in result.stderr
    assert "Unknown key 'ProtectSystm'" in result.stderr
    assert "is not executable" in result.stderr


@needs_analyze
def test_security_exposure_is_low(unit_root: UnitRoot) -> None:
    result = analyze(
        "security",
        "--no-pager",
        "--offline=yes",
        "--threshold=30",
        f"--root={unit_root.root}",
        str(unit_root.unit),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(
        rf"Overall exposure level for {re.escape(UNIT_NAME)}: (\d+(?:\.\d+)?)", result.stdout
    )
    assert match, result.stdout
    exposure = float(match.group(1))
    assert exposure <= MAX_EXPOSURE, result.stdout


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("Service", "Type", "notify"),
        ("Service", "NotifyAccess", "main"),
        ("Service", "WatchdogSec", "10s"),
        ("Service", "User", "kiosk"),
        ("Service", "PrivateDevices", "no"),
        ("Service", "DevicePolicy", "closed"),
        ("Service", "DeviceAllow", "char-alsa rw"),
        ("Service", "DeviceAllow", "/dev/gpiochip0 rw"),
        ("Service", "StateDirectory", "kiosk"),
        ("Unit", "StartLimitIntervalSec", "300"),
        ("Install", "WantedBy", "multi-user.target"),
    ],
)
def test_unit_keeps_what_the_daemon_relies_on(section: str, key: str, value: str) -> None:
    assert (section, key, value) in parse_unit(UNIT.read_text(encoding="utf-8"))
