"""scripts/install.sh as on a real booth, in a fresh Debian 12 chroot (debootstrap).

This is the live path that `--root-dir` cannot reach: apt-get, a venv built with pip from the
network on Debian's python3, useradd/runuser without --root, systemctl in a chroot (systemd is
not PID 1, so the service start is skipped). It needs root, debootstrap and the network and
takes about two minutes, so it is opt-in: KIOSK_TEST_CHROOT=1 pytest tests/integration/...
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MIRROR = os.environ.get("KIOSK_TEST_MIRROR", "http://deb.debian.org/debian")

pytestmark = pytest.mark.skipif(
    os.environ.get("KIOSK_TEST_CHROOT") != "1"
    or os.geteuid() != 0
    or not shutil.which("debootstrap"),
    reason="opt-in (KIOSK_TEST_CHROOT=1, root, debootstrap, network)",
)

DEBOOTSTRAP = ["debootstrap", "--variant=minbase", "--include=ca-certificates,systemd", "bookworm"]
FLAGS = "--hub http://127.0.0.1:9 --no-enroll --no-selftest --audio-card Device --pin 22"
SCRIPT = f"""
set -eu
C=$1
mount -t proc proc "$C/proc"
mount --rbind /dev "$C/dev"
mount -t sysfs sys "$C/sys"
in_chroot() {{
  chroot "$C" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \\
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt /bin/bash -c "cd /root/kiosk && $1"
}}
echo "== first"; in_chroot "scripts/install.sh {FLAGS}"
echo "== second"; in_chroot "scripts/install.sh {FLAGS}"
echo "== check"
in_chroot "/opt/kiosk/venv/bin/kiosk check-config /etc/kiosk/kiosk.yaml"
in_chroot "runuser -u kiosk -- /opt/kiosk/venv/bin/python -c 'import kiosk.app, systemd.journal'"
echo "== uninstall"; in_chroot "scripts/install.sh --uninstall"
test -d "$C/var/lib/kiosk" && echo "state kept"
echo "== purge"; in_chroot "scripts/install.sh --uninstall --purge"
"""


def sections(out: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    name = ""
    for line in out.splitlines():
        if line.startswith("== "):
            name = line[3:]
            parts[name] = ""
        elif name:
            parts[name] += line + "\n"
    return parts


def test_install_on_a_fresh_debian_chroot(tmp_path: Path) -> None:
    root = tmp_path / "debian"
    subprocess.run(
        [*DEBOOTSTRAP, str(root), MIRROR],
        check=True,
        capture_output=True,
        timeout=900,
    )
    shutil.copytree(
        REPO,
        root / "root" / "kiosk",
        ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", ".hub-data", "*.egg-info"),
    )
    shutil.copy(Path("/etc/resolv.conf"), root / "etc" / "resolv.conf")
    # Keep the host's trust store (a CI machine may sit behind a TLS-inspecting proxy).
    shutil.copy(Path("/etc/ssl/certs/ca-certificates.crt"), root / "etc/ssl/certs")
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", SCRIPT, "x", str(root)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    parts = sections(out)
    assert "changed   packages" in parts["first"] and "changed   venv" in parts["first"], out
    assert "skipped   service   systemd is not running here" in parts["first"], out
    assert parts["second"].splitlines()[-1] == "no changes: the booth was already as asked", out
    assert "/etc/kiosk/kiosk.yaml: ok" in parts["check"], out
    assert "state kept" in parts["uninstall"] and not (root / "var/lib/kiosk").exists(), out
    assert "kiosk:" not in (root / "etc" / "passwd").read_text()
