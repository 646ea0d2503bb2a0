"""The hub for real: uvicorn on 127.0.0.1, the admin's command line, and a booth syncing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile as sf

from kiosk.admin.cli import main as admin
from kiosk.clips.clipset import load_clipset
from tests.clipmaker import make_set
from tests.content import booth_syncer
from tests.hubproc import HubProcess
from tests.nginx import Nginx

TOKEN = "test-admin-token"


def kiosk_admin(tmp_path: Path, hub: HubProcess, *args: str, token: str = TOKEN) -> int:
    return admin(["--hub", hub.url, "--token", token, "--keys", str(tmp_path / "keys"), *args])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/api/v1/targets/assignments.json?sha256=" + "0" * 64),
        ("post", "/api/v1/publish"),
        ("post", "/api/v1/refresh"),
        ("get", "/api/v1/publishes"),
        ("get", "/api/v1/anything"),
    ],
)
@pytest.mark.parametrize("auth", [None, "Bearer wrong", "Basic dGVzdDp0ZXN0", f"bearer{TOKEN}"])
def test_admin_api_wants_the_token(
    hub: HubProcess, method: str, path: str, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth else {}
    resp = requests.request(method, hub.url + path, headers=headers, data=b"{}", timeout=5)
    assert resp.status_code == 401


def test_publish_through_the_hub_and_sync_from_hub_and_nginx(
    tmp_path: Path, hub: HubProcess
) -> None:
    make_set(tmp_path / "src", {"a.wav": 1.0, "b.wav": 1.0})
    assert kiosk_admin(tmp_path, hub, "publish", str(tmp_path / "src"), "--set", "lobby") == 0
    root = hub.data / "repo" / "metadata" / "1.root.json"
    syncer, store = booth_syncer(tmp_path / "booth1", f"{hub.url}/repo", root, "lobby")
    store.activate(syncer.sync().folder)
    assert [c.file for c in load_clipset(store.sets / "current").clips] == ["a.opus", "b.opus"]
    # The scale-out path: the hub's repository folder as plain static files from nginx.
    with Nginx(hub.data / "repo", tmp_path / "nginx") as nginx:
        syncer2, store2 = booth_syncer(tmp_path / "booth2", nginx.url, root, "lobby")
        store2.activate(syncer2.sync().folder)
    assert sorted(p.name for p in (store2.sets / "current").iterdir()) == [
        "a.opus",
        "b.opus",
        "clipset.yaml",
    ]
    log = requests.get(
        f"{hub.url}/api/v1/publishes", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    ).json()
    assert log[0]["sets"] == "lobby"


def test_unchanged_clips_are_never_uploaded_again(tmp_path: Path, hub: HubProcess) -> None:
    make_set(tmp_path / "src", {"a.wav": 1.0, "b.wav": 1.0})
    assert kiosk_admin(tmp_path, hub, "publish", str(tmp_path / "src"), "--set", "lobby") == 0
    make_set(tmp_path / "src", {"a.wav": 1.0, "b.wav": 1.0, "c.wav": 1.0})
    assert kiosk_admin(tmp_path, hub, "publish", str(tmp_path / "src"), "--set", "lobby") == 0
    puts = [
        line for line in hub.log.read_text().splitlines() if '"PUT /api/v1/targets/clips' in line
    ]
    assert len(puts) == 3  # a, b, then only c


def test_bad_files_publish_nothing_and_are_named(
    tmp_path: Path, hub: HubProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "src"
    make_set(folder, {"good.wav": 1.0, "bad.ogg": 1.0, "quiet.wav": 1.0, "long.wav": 1.0})
    (folder / "bad.ogg").write_bytes(b"OggS broken")
    sf.write(folder / "quiet.wav", np.zeros(48000, dtype=np.float32), 48000)
    sf.write(folder / "long.wav", np.full(48000 * 20, 0.1, dtype=np.float32), 48000)
    code = kiosk_admin(
        tmp_path, hub, "publish", str(folder), "--set", "lobby", "--max-seconds", "10"
    )
    err = capsys.readouterr().err
    assert code == 2 and "nothing was published" in err
    assert f"{folder / 'bad.ogg'}: cannot decode" in err
    assert f"{folder / 'quiet.wav'}: silent" in err
    assert f"{folder / 'long.wav'}: too long" in err
    assert kiosk_admin(tmp_path, hub, "sets") == 0
    assert capsys.readouterr().out == ""


def test_expired_consent_drops_out_with_a_warning(
    tmp_path: Path, hub: HubProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "src"
    make_set(folder, {"a.wav": 1.0, "old.wav": 1.0}, extra_yaml={"old.wav:expires": "2020-01-01"})
    assert kiosk_admin(tmp_path, hub, "publish", str(folder), "--set", "lobby") == 0
    assert "consent expired 2020-01-01; left out" in capsys.readouterr().err
    assert kiosk_admin(tmp_path, hub, "show", "lobby") == 0
    shown = capsys.readouterr().out
    assert "a.opus" in shown and "old.opus" not in shown


def test_the_hub_refuses_targets_not_signed_by_the_targets_key(
    tmp_path: Path, hub: HubProcess
) -> None:
    from kiosk.admin.destination import HubDestination
    from kiosk.admin.publishing import next_targets
    from kiosk.content.keys import KeyStore

    keys = KeyStore(tmp_path / "keys")
    dest = HubDestination(hub.url, TOKEN, keys.public("targets"))
    evil = next_targets(dest.current_targets())
    evil.sign(KeyStore(hub.data / "online-keys").signer("snapshot"))
    with pytest.raises(Exception, match="not signed by the targets key"):
        dest.publish(evil)
    skipped = next_targets(dest.current_targets())
    skipped.signed.version += 5
    skipped.sign(keys.signer("targets"))
    with pytest.raises(Exception, match="expected 2"):
        dest.publish(skipped)


def test_uploads_are_checked(hub: HubProcess) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = b"some bytes"
    wrong = requests.put(
        f"{hub.url}/api/v1/targets/clips/{'a' * 64}.opus",
        params={"sha256": "a" * 64},
        data=body,
        headers=auth,
        timeout=5,
    )
    assert wrong.status_code == 400 and "sha256 of the body" in wrong.text
    odd = requests.put(
        f"{hub.url}/api/v1/targets/../../etc/passwd",
        params={"sha256": "a" * 64},
        data=body,
        headers=auth,
        timeout=5,
    )
    assert odd.status_code in (400, 404)


def test_booth_follows_its_groups_assignment(tmp_path: Path, hub: HubProcess) -> None:
    for name in ("emea", "amer"):
        make_set(tmp_path / name, {f"{name}.wav": 1.0}, name=name)
        assert kiosk_admin(tmp_path, hub, "publish", str(tmp_path / name), "--set", name) == 0
    assert kiosk_admin(tmp_path, hub, "assign", "lobby-west", "amer") == 0
    from kiosk.sync.fetcher import Fetcher
    from kiosk.sync.store import SetStore
    from kiosk.sync.updater import Source, Syncer

    root = hub.data / "repo" / "metadata" / "1.root.json"
    store = SetStore(tmp_path / "booth")
    syncer = Syncer(
        Source(f"{hub.url}/repo", root, group="lobby-west"), store, Fetcher(), tmp_path / "booth"
    )
    try:
        result = syncer.sync()
    finally:
        syncer.close()
    assert result.set_name == "amer"


def test_hub_without_a_repository_says_how_to_make_one(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "serve", "--data", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 78 and "kiosk-admin --repo" in done.stderr
