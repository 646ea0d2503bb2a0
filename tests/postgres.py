"""Debian's PostgreSQL for tests: a private cluster on a unix socket, stopped afterwards.

PostgreSQL will not run as root, so under root (CI) the cluster belongs to the `postgres` user
and lives in a folder that user can reach.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import psycopg

from tests.audio_rig import stop_process
from tests.nginx import free_port


def pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class Postgres:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._user: list[str] = []
        self._databases = 0
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
            self._user = ["runuser", "-u", "postgres", "--"]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql:///{database}?host={self.folder}&port={self.port}&user=kiosk"

    def start(self) -> Postgres:
        initdb, postgres = pg_bin("initdb"), pg_bin("postgres")
        assert initdb and postgres, "PostgreSQL is not installed (apt-get install postgresql)"
        data = self.folder / "data"
        subprocess.run(
            [*self._user, initdb, "-D", str(data), "-U", "kiosk", "--auth=trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )
        log = (self.folder / "postgres.log").open("wb")
        self._proc = subprocess.Popen(
            [
                *self._user,
                postgres,
                "-D",
                str(data),
                "-k",
                str(self.folder),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=",
                "-c",
                "fsync=off",
            ],
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return self
            except psycopg.OperationalError:
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    self.stop()
                    raise
                time.sleep(0.1)

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        self._databases += 1
        name = f"t{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}".encode())
        return self.url(name)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process(proc, 10)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Postgres:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
