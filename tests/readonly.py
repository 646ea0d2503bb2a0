"""Run a command with the whole file system read-only except a few folders (a read-only root).

A private mount namespace (`unshare --mount`, root only): the writable folders are bind-mounted
onto themselves, then every other mount is remounted read-only, except /proc, /sys and /dev
(as systemd's ProtectSystem=strict leaves them). The shell `exec`s the command, so the pid
the caller sees is the command's own: signals and /proc/PID/io reach it directly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

_SCRIPT = r"""
set -eu
IFS=:
for w in $KIOSK_WRITABLE; do mount --bind "$w" "$w"; done
unset IFS
for mp in $(awk '{print $5}' /proc/self/mountinfo | sort -u); do
  case "$mp" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
  case ":$KIOSK_WRITABLE:" in *":$mp:"*) continue ;; esac
  mount -o remount,bind,ro "$mp"
done
exec "$@"
"""


def available() -> str | None:
    """None if read-only sandboxes work here, else the reason they do not."""
    if os.geteuid() != 0:
        return "needs root (mount namespaces)"
    if shutil.which("unshare") is None:
        return "needs unshare (util-linux)"
    probe = subprocess.run(readonly_argv(["true"], []), capture_output=True, text=True, check=False)
    return None if probe.returncode == 0 else f"unshare --mount failed: {probe.stderr.strip()}"


def readonly_argv(argv: Sequence[str], writable: Sequence[Path]) -> list[str]:
    """`argv` wrapped so that only `writable` (existing folders) can be written."""
    spec = ":".join(str(Path(w).resolve()) for w in writable)
    if any(":" in str(w) for w in writable):
        raise ValueError(f"a writable folder's path has a ':': {writable}")
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "env",
        f"KIOSK_WRITABLE={spec}",
        "sh",
        "-c",
        _SCRIPT,
        "readonly",
        *argv,
    ]
