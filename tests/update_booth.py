"""A booth installed by scripts/install.sh under a temporary root, run by tests/supervisor.py.

The installed kiosk.yaml is rewritten with its paths under the root (as the installer's own
host config is) plus the test's `update:` keys; the helper runs as `kiosk-update apply` from
/opt/kiosk/current with `--supervisor-state`, since systemd is not PID 1 here.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.integration.test_install import run_install

SUPERVISOR = [sys.executable, "-m", "tests.supervisor"]
ACCOUNTS = {
    "passwd": "root:x:0:0:root:/root:/bin/bash\n",
    "group": "root:x:0:\naudio:x:29:\n",
    "shadow": "root:*:19000:0:99999:7:::\n",
    "gshadow": "root:*::\naudio:*::\n",
}


class UpdateBooth:
    def __init__(self, base: Path, wheel: Path, root_json: Path, env: dict[str, str]) -> None:
        self.root = base / "target"
        (self.root / "etc").mkdir(parents=True)
        for name, text in ACCOUNTS.items():
            (self.root / "etc" / name).write_text(text)
        nologin = self.root / "usr" / "sbin" / "nologin"
        nologin.parent.mkdir(parents=True)
        nologin.write_text("#!/bin/sh\nexit 1\n")
        nologin.chmod(0o755)
        sha = hashlib.sha256(root_json.read_bytes()).hexdigest()
        result = run_install(
            *("--root-dir", str(self.root), "--venv-from", sys.prefix, "--wheel", str(wheel)),
            *("--no-enroll", "--no-selftest", "--hub", "http://127.0.0.1:9"),
            *("--root", str(root_json), "--root-sha256", sha, "--group", "lobby"),
        )
        assert result.returncode == 0, result.stdout + result.stderr
        self.install_output = result.stdout
        self.opt = self.root / "opt" / "kiosk"
        self.state = self.root / "var" / "lib" / "kiosk"
        self.helper_state = self.root / "var" / "lib" / "kiosk-update"
        self.hook_file = base / "hook"
        self.hook(True)
        text = (self.root / "etc" / "kiosk" / "kiosk.yaml").read_text()
        text = text.replace("/var/lib/kiosk", str(self.state))
        text = text.replace("/etc/kiosk", str(self.root / "etc" / "kiosk"))
        text += (
            f"update:\n  hook_file: {self.hook_file}\n"
            f"  status_file: {self.helper_state / 'status.json'}\n"
            "  ready_timeout_s: 30\n  probation_s: 1.5\n"
        )
        self.config = base / "kiosk.yaml"
        self.config.write_text(text)
        self.sup_state = base / "supervisor.json"
        self.env = {**env, "GPIOZERO_PIN_FACTORY": "mock"}
        self.supervisor: subprocess.Popen[bytes] | None = None
        self.booth_id = ""  # once a test enrolls it at a hub (tests.live_hub_rig.enroll_into)

    def start(self) -> None:
        """The daemon from /opt/kiosk/current under the supervisor, until READY."""
        kiosk = str(self.opt / "current" / "bin" / "kiosk")
        self.supervisor = subprocess.Popen(
            [*SUPERVISOR, str(self.sup_state), "--", kiosk, "run", "--config", str(self.config)],
            env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.wait(lambda: self.sup().get("ready") is True, "the first READY")

    def stop(self) -> None:
        if self.supervisor is not None:
            self.supervisor.terminate()
            self.supervisor.wait(30)
            self.supervisor = None

    def wait(self, check: Any, what: str, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < end, f"no {what}; supervisor {self.sup()}"
            time.sleep(0.05)

    def sup(self) -> dict[str, Any]:
        try:
            doc: dict[str, Any] = json.loads(self.sup_state.read_text())
        except (OSError, ValueError):
            return {}
        return doc

    def hook(self, on: bool) -> None:
        self.hook_file.write_text("on\n" if on else "off\n")

    def helper_command(self) -> list[str]:
        return [
            str(self.opt / "current" / "bin" / "kiosk-update"),
            *("apply", "--config", str(self.config), "--opt", str(self.opt)),
            *("--state-dir", str(self.helper_state), "--supervisor-state", str(self.sup_state)),
        ]

    def helper(self, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.helper_command(),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            env={**os.environ, **env},
        )

    def status(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads((self.helper_state / "status.json").read_text())
        return doc

    def running(self) -> str:
        return os.readlink(self.opt / "current")

    def venvs(self) -> list[str]:
        return sorted(p.name for p in (self.opt / "venvs").iterdir())
