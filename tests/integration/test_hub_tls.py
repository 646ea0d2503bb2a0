"""TLS end to end: `kiosk-hub serve --tls-cert --tls-key` with a certificate from a throwaway
CA; `kiosk enroll` and `kiosk-admin` over https, refusing plain http off this machine; tokens
from files, stdin or the environment; no token in the access log."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import requests

from kiosk.admin.cli import main as admin
from kiosk.cli import main as kiosk
from kiosk.fleet import identity
from tests.hubproc import HubProcess, init_hub_data
from tests.tlsca import server_certificate


def test_enroll_and_administer_over_https(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tls = server_certificate(tmp_path / "tls")
    data = init_hub_data(tmp_path / "hub-data", tmp_path / "keys")
    with HubProcess(data, tls=tls) as hub:
        assert hub.url.startswith("https://")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls[2]))  # the booth trusts the test CA
        monkeypatch.setenv("KIOSK_HUB_TOKEN", hub.token)
        capsys.readouterr()
        assert admin(["--hub", hub.url, "booth", "add", "--group", "lobby"]) == 0
        token = capsys.readouterr().out.strip()
        token_file = tmp_path / "token"
        token_file.write_text(token + "\n")
        config = tmp_path / "kiosk.yaml"
        config.write_text(f"state_dir: {tmp_path / 'state'}\n")
        enroll = ["enroll", "--hub", hub.url, "--config", str(config)]
        assert kiosk([*enroll, "--token-file", str(token_file)]) == 0
        me = identity.load(tmp_path / "state")
        assert me is not None and me.hub == hub.url
        assert "warning" not in capsys.readouterr().err
        # Plain http to the TLS port gets nowhere; nor does a client without the CA.
        with pytest.raises(requests.ConnectionError):
            requests.get(hub.url.replace("https", "http") + "/healthz", timeout=5)
        monkeypatch.delenv("REQUESTS_CA_BUNDLE")
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{hub.url}/healthz", timeout=5)
        # A token in a query string by mistake: answered, never logged.
        requests.get(
            f"{hub.url}/healthz?token=SECRET-IN-QUERY&days=3", verify=str(tls[2]), timeout=5
        )
    log = hub.log.read_text()
    assert "GET /healthz?token=…&days=3" in log
    for secret in ("SECRET-IN-QUERY", token, me.credential, hub.token):
        assert secret not in log


def test_tokens_never_need_argv_and_plain_http_is_refused_off_loopback(
    tmp_path: Path,
    hub: HubProcess,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "kiosk.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\n")
    enroll = ["enroll", "--config", str(config)]
    # Off this machine, http is refused before anything is sent (the address is never dialled).
    assert kiosk([*enroll, "--hub", "http://hub.example.com", "--token-file", os.devnull]) == 64
    assert "plain http" in capsys.readouterr().err
    monkeypatch.setenv("KIOSK_HUB_TOKEN", "x")
    assert admin(["--hub", "http://10.0.0.1:8765", "booth", "list"]) == 2
    assert "--insecure" in capsys.readouterr().err
    monkeypatch.setenv("KIOSK_HUB_TOKEN", hub.token)
    # No token anywhere: a clear error, not a request.
    assert kiosk([*enroll, "--hub", hub.url]) == 64
    assert "KIOSK_ENROLL_TOKEN" in capsys.readouterr().err
    # The admin token from the environment, the enrollment token on stdin.
    assert admin(["--hub", hub.url, "booth", "add", "--group", "lobby"]) == 0
    token = capsys.readouterr().out.strip()
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    assert kiosk([*enroll, "--hub", hub.url, "--token-file", "-"]) == 0
    # The old flag still works, with a warning.
    assert admin(["--hub", hub.url, "--token", hub.token, "booth", "list"]) == 0
    assert "--token shows the token" in capsys.readouterr().err
