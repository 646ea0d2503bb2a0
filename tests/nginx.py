"""Debian's nginx serving a folder on 127.0.0.1, started and stopped by the tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from tests.audio_rig import stop_process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (openssl), as (cert.pem, key.pem) in `folder`."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    openssl = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        [*openssl.split(), *subject, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


class Nginx:
    """`nginx -g 'daemon off;'` with a private config; `url` is its root."""

    def __init__(
        self, root: Path, work: Path, tls: tuple[Path, Path] | None = None, site: str = ""
    ) -> None:
        """`tls`: (certificate, key) PEM files to serve https instead of http. `site`: server
        blocks (a sites-enabled file) in place of the one serving `root`; they listen on
        `port` (set before start)."""
        self.root = root
        self.work = work
        self.tls = tls
        self.site = site
        self.port = free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Nginx:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.work.mkdir(parents=True, exist_ok=True)
        user = "user root;" if os.geteuid() == 0 else ""
        conf = self.work / "nginx.conf"
        listen = f"listen 127.0.0.1:{self.port};"
        if self.tls is not None:
            cert, key = self.tls
            listen = (
                f"listen 127.0.0.1:{self.port} ssl; ssl_certificate {cert}; "
                f"ssl_certificate_key {key};"
            )
        server = f"""server {{
        {listen}
        root {self.root};
        location / {{ try_files $uri =404; }}
    }}"""
        conf.write_text(
            f"""{user}
worker_processes 1;
pid {self.work}/nginx.pid;
error_log {self.work}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {self.work}/access.log;
    client_body_temp_path {self.work}/body;
    proxy_temp_path {self.work}/proxy;
    fastcgi_temp_path {self.work}/fastcgi;
    uwsgi_temp_path {self.work}/uwsgi;
    scgi_temp_path {self.work}/scgi;
    types {{ application/json json; audio/ogg opus; }}
    default_type application/octet-stream;
    sendfile on;
    {self.site or server}
}}
"""
        )
        self._proc = subprocess.Popen(
            [nginx, "-c", str(conf), "-p", str(self.work), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                raise RuntimeError(f"nginx exited: {err}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("nginx did not start listening")

    def requests_logged(self) -> list[str]:
        """The request lines nginx logged so far ('GET /metadata/timestamp.json ...')."""
        try:
            lines = (self.work / "access.log").read_text().splitlines()
        except OSError:
            return []
        return [line.split('"')[1] for line in lines if '"' in line]

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        stop_process(proc, 5)
        if proc.stderr is not None:
            proc.stderr.close()

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
