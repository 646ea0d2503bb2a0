"""The shipped nginx site (config/nginx-hub.conf) in front of the real hub, with TLS from a
throwaway CA: API, dashboard, /repo/ and the body limits, and no token in either access log."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from kiosk.admin.cli import main as admin
from kiosk.cli import main as kiosk
from kiosk.fleet import identity
from tests.hubproc import HubProcess
from tests.nginx import Nginx, free_port
from tests.tlsca import server_certificate

SITE = Path(__file__).resolve().parents[2] / "config" / "nginx-hub.conf"


def site_for(hub: HubProcess, proxy: Nginx, cert: Path, key: Path) -> str:
    """The shipped site with this machine's ports, certificate and folders."""
    text = SITE.read_text()
    for shipped, here in (
        ("server 127.0.0.1:8765;", f"server 127.0.0.1:{hub.port};"),
        ("listen 80;", f"listen 127.0.0.1:{free_port()};"),
        ("listen 443 ssl;", f"listen 127.0.0.1:{proxy.port} ssl;"),
        ("/etc/ssl/certs/hub.example.com.pem", str(cert)),
        ("/etc/ssl/private/hub.example.com.key", str(key)),
        ("/srv/kiosk/hub-data", str(hub.data)),
        ("/var/log/nginx/kiosk-hub.access.log", str(proxy.work / "hub-access.log")),
    ):
        assert shipped in text, shipped
        text = text.replace(shipped, here)
    return text


@pytest.fixture
def proxy(tmp_path: Path, hub: HubProcess) -> Iterator[tuple[Nginx, str]]:
    """nginx with the shipped site in front of `hub`; (nginx, the CA file to trust)."""
    cert, key, ca = server_certificate(tmp_path / "tls")
    server = Nginx(hub.data / "repo", tmp_path / "nginx")
    server.url = f"https://127.0.0.1:{server.port}"
    server.site = site_for(hub, server, cert, key)
    with server:
        yield server, str(ca)


def test_the_whole_hub_through_the_shipped_nginx_site(
    proxy: tuple[Nginx, str],
    hub: HubProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    nginx, ca = proxy
    url = nginx.url
    assert requests.get(f"{url}/healthz", verify=ca, timeout=5).json()["ok"] is True
    # The repository from the folder, with the cache rules; nothing of it from the hub.
    stamp = requests.get(f"{url}/repo/metadata/timestamp.json", verify=ca, timeout=5)
    assert stamp.status_code == 200 and stamp.headers["Cache-Control"] == "no-cache"
    root = requests.get(f"{url}/repo/metadata/1.root.json", verify=ca, timeout=5)
    assert root.status_code == 200 and "immutable" in root.headers["Cache-Control"]
    assert "Strict-Transport-Security" in root.headers

    # The dashboard: its own form works (the cookie is Secure: the hub knows it is https).
    with requests.Session() as browser:
        login = browser.post(
            f"{url}/login",
            data={"token": hub.token},
            headers={"Origin": url},
            allow_redirects=False,
            timeout=5,
            verify=ca,
        )
        assert login.status_code == 303, login.text
        assert "Secure" in login.headers["set-cookie"]
        page = browser.get(f"{url}/dashboard", timeout=5, verify=ca)
        assert page.url == f"{url}/dashboard"

    # The admin and a booth over https through the proxy, tokens never in argv.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca)
    monkeypatch.setenv("KIOSK_HUB_TOKEN", hub.token)
    capsys.readouterr()
    assert admin(["--hub", url, "booth", "add", "--group", "lobby"]) == 0
    monkeypatch.setenv("KIOSK_ENROLL_TOKEN", capsys.readouterr().out.strip())
    config = tmp_path / "kiosk.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\n")
    assert kiosk(["enroll", "--hub", url, "--config", str(config)]) == 0
    me = identity.load(tmp_path / "state")
    assert me is not None
    as_booth = {"Authorization": f"Bearer {me.credential}"}
    beat = requests.post(
        f"{url}/api/v1/heartbeat", json={"queue_len": 0}, headers=as_booth, verify=ca, timeout=5
    )
    assert beat.status_code == 200

    # Each path's body limit, before the hub.
    big = b"x" * (1024 * 1024 + 1)
    for path, size in (("/api/v1/events", len(big)), ("/api/v1/heartbeat", 16 * 1024 + 1)):
        resp = requests.post(
            f"{url}{path}", data=big[:size], headers=as_booth, verify=ca, timeout=5
        )
        assert resp.status_code == 413, path
    upload = requests.put(
        f"{url}/api/v1/targets/clips/{'0' * 64}.opus",
        params={"sha256": "0" * 64},
        data=b"y" * (5 * 1024 * 1024),
        headers={"Authorization": f"Bearer {hub.token}"},
        verify=ca,
        timeout=30,
    )
    assert upload.status_code == 400  # reached the hub, which checked the hash

    # A token in a query string by mistake: in neither access log.
    requests.get(f"{url}/healthz?token=SECRET-IN-QUERY", verify=ca, timeout=5)
    nginx_log = (nginx.work / "hub-access.log").read_text()
    assert "GET /healthz HTTP" in nginx_log
    hub.stop()
    for log in (nginx_log, hub.log.read_text()):
        for secret in (
            "SECRET-IN-QUERY",
            hub.token,
            me.credential,
            os.environ["KIOSK_ENROLL_TOKEN"],
        ):
            assert secret not in log


def test_the_shipped_site_passes_nginx_t(tmp_path: Path) -> None:
    """As shipped (only the paths that must exist swapped): Debian's nginx accepts it."""
    cert, key, _ = server_certificate(tmp_path / "tls")
    text = SITE.read_text()
    text = text.replace("/etc/ssl/certs/hub.example.com.pem", str(cert))
    text = text.replace("/etc/ssl/private/hub.example.com.key", str(key))
    text = text.replace("/var/log/nginx/", f"{tmp_path}/")
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{\n{text}\n}}\n"
    )
    result = subprocess.run(
        ["nginx", "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
