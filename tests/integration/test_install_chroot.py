"""scripts/install.sh as on a real booth, in a fresh Debian 12 chroot (debootstrap).

This is the live path that `--root-dir` cannot reach: apt-get, a venv built with pip from the
network on Debian's python3, useradd/runuser without --root, systemctl in a chroot (systemd is
not PID 1, so the service start is skipped). The installer ends with its real unattended
self-test, as the kiosk user, playing into a PulseAudio sink of the host's that is bind-mounted
into the chroot; then the installed `kiosk run` must reach READY=1 on a notify socket. It needs
root, debootstrap and the network and takes a few minutes, so it is opt-in:
KIOSK_TEST_CHROOT=1 pytest tests/integration/...
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from kiosk.audio.decode import decode
from tests.audio_rig import PulseSink, best_lag

REPO = Path(__file__).resolve().parents[2]
MIRROR = os.environ.get("KIOSK_TEST_MIRROR", "http://deb.debian.org/debian")

pytestmark = pytest.mark.skipif(
    os.environ.get("KIOSK_TEST_CHROOT") != "1"
    or os.geteuid() != 0
    or not shutil.which("debootstrap"),
    reason="opt-in (KIOSK_TEST_CHROOT=1, root, debootstrap, network)",
)

UNSHARE = ["unshare", "--mount", "--propagation", "private"]
DEBOOTSTRAP = ["debootstrap", "--variant=minbase", "--include=ca-certificates,systemd", "bookworm"]
FLAGS = "--hub http://127.0.0.1:9 --no-enroll --audio-card Device --pin 22"
SCRIPT = f"""
set -eu
C=$1 PA=$2
mount -t proc proc "$C/proc"
mount --rbind /dev "$C/dev"
mount -t sysfs sys "$C/sys"
mkdir -p "$C$PA"
mount --bind "$PA" "$C$PA"
in_chroot() {{
  chroot "$C" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \\
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt $KIOSK_CHROOT_ENV \\
    /bin/bash -c "cd /root/kiosk && $1"
}}
echo "== setup"
in_chroot "apt-get update -qq && apt-get install -y -qq --no-install-recommends libasound2-plugins"
echo "== first"; in_chroot "scripts/install.sh {FLAGS}"
echo "== second"; in_chroot "scripts/install.sh {FLAGS}"
echo "== check"
in_chroot "/opt/kiosk/current/bin/kiosk check-config /etc/kiosk/kiosk.yaml"
in_chroot "runuser -u kiosk -- /opt/kiosk/current/bin/python -c 'import kiosk.app, systemd.journal'"
echo "== run"; in_chroot "/opt/kiosk/current/bin/python /root/ready.py"
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


# Inside the chroot: `kiosk run` as systemd would start it, as the kiosk user, until READY=1.
READY = """
import os, socket, subprocess, sys
path = "/run/kiosk-notify"
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
os.chmod(path, 0o777)
sock.settimeout(60)
# setpriv execs the daemon as kiosk, so SIGTERM reaches it (runuser would kill its session).
user = ["setpriv", "--reuid=kiosk", "--regid=kiosk", "--init-groups"]
cmd = [*user, "/opt/kiosk/current/bin/kiosk", "run"]
daemon = subprocess.Popen([*cmd, "--config", "/etc/kiosk/kiosk.yaml"],
                          env={**os.environ, "NOTIFY_SOCKET": path})
try:
    while not (message := sock.recv(4096).decode()).startswith("READY=1"):
        pass
    print("ready:", message.replace("\\n", " "))
finally:
    daemon.terminate()
    print("exit:", daemon.wait(30))
"""


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
    (root / "root" / "ready.py").write_text(READY)
    # A sound card for the chroot: the host's PulseAudio sink at the same path inside and out.
    parent = Path(tempfile.mkdtemp(prefix="kpa-", dir="/tmp"))
    with PulseSink(parent) as pulse, pulse.record() as rec:
        for folder in (parent, pulse.dir):
            folder.chmod(0o755)  # the kiosk user reaches the socket and the ALSA config
        pulse.cookie_path.chmod(0o644)
        passed = {**pulse.env, "GPIOZERO_PIN_FACTORY": "mock"}
        result = subprocess.run(
            [*UNSHARE, "bash", "-c", SCRIPT, "x", str(root), str(parent)],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
            env={**os.environ, "KIOSK_CHROOT_ENV": " ".join(f"{k}={v}" for k, v in passed.items())},
        )
        heard = rec.samples()
    shutil.rmtree(parent, ignore_errors=True)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    parts = sections(out)
    assert "changed   packages" in parts["first"] and "changed   venv" in parts["first"], out
    assert "skipped   service   systemd is not running here" in parts["first"], out
    assert parts["second"].splitlines()[-1] == "no changes: the booth was already as asked", out
    assert "/etc/kiosk/kiosk.yaml: ok" in parts["check"], out
    assert "unchanged selftest passed" in " ".join(parts["first"].split()), out
    assert "ready: READY=1" in parts["run"] and "exit: 0" in parts["run"], out + result.stderr
    prompt = decode(REPO / "kiosk" / "data" / "prompts" / "self-test.ogg", 48000, 60)
    _, score = best_lag(heard, prompt[: 48000 * 2])
    assert score > 0.9, f"the self-test prompt was not heard in the chroot (score {score:.2f})"
    assert "state kept" in parts["uninstall"] and not (root / "var/lib/kiosk").exists(), out
    assert "kiosk:" not in (root / "etc" / "passwd").read_text()
