"""The real hub (`kiosk-hub serve`, uvicorn) in a child process on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import requests

from tests.audio_rig import stop_process
from tests.nginx import free_port


def init_hub_data(data: Path, keys: Path) -> Path:
    """A hub data folder with an empty signed repository (`kiosk-admin init`); admin keys in
    `keys`."""
    from kiosk.admin.cli import main as admin

    args = ["--repo", str(data / "repo"), "--keys", str(keys)]
    init = ["--online-keys", str(data / "online-keys"), "init", "--no-passphrase"]
    if admin([*args, *init]) != 0:
        raise RuntimeError(f"kiosk-admin init failed for {data}")
    return data


class HubProcess:
    def __init__(
        self,
        data: Path,
        token: str = "test-admin-token",
        env: dict[str, str] | None = None,
        module: str = "hub.cli",
        python: str = sys.executable,
        tls: tuple[Path, Path, Path] | None = None,
        args: Sequence[str] = (),
    ) -> None:
        """`module` is run as `PYTHON -m MODULE serve --data DATA --port PORT [ARGS]`; with
        `tls` (certificate, key, CA that signed it) it serves https."""
        self.data = data
        self.module = module
        self.python = python
        self.token = token
        self.env = env or {}
        self.port = free_port()
        self.tls = tls
        self.args = list(args)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.verify: str | bool = str(tls[2]) if tls else True
        self._proc: subprocess.Popen[bytes] | None = None
        self.log = data.parent / f"hub-{self.port}.log"

    def start(self) -> HubProcess:
        with self.log.open("wb") as log:
            self._proc = subprocess.Popen(
                [
                    self.python,
                    "-m",
                    self.module,
                    "serve",
                    "--data",
                    str(self.data),
                    "--port",
                    str(self.port),
                    *(
                        ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
                        if self.tls
                        else []
                    ),
                    *self.args,
                ],
                env={**os.environ, **self.env, "KIOSK_HUB_ADMIN_TOKEN": self.token},
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"hub exited: {self.log.read_text()}")
            try:
                healthz = requests.get(f"{self.url}/healthz", timeout=0.5, verify=self.verify)
                if healthz.status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"hub did not start: {self.log.read_text()}")

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("the hub is not running")
        return self._proc.pid

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process(proc, 10)

    def __enter__(self) -> HubProcess:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
