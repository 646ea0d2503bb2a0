"""Named admins and the audit log, on the real hub with the admin's real command line."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import requests

from hub.cli import main as hub_cli
from kiosk.admin.cli import main as admin
from kiosk.admin.consent import put_register
from kiosk.admin.destination import HubDestination
from kiosk.admin.publishing import current_manifest, next_targets, stage_manifest
from kiosk.content.consent import ConsentRegister
from kiosk.content.keys import KeyStore
from kiosk.content.repository import RepositoryError
from tests.clipmaker import make_set
from tests.hubproc import HubProcess


def add_admin(hub: HubProcess, name: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert hub_cli(["admin", "add", name, "--data", str(hub.data)]) == 0
    return capsys.readouterr().out.strip()


def audit(hub: HubProcess, token: str, **params: str) -> list[dict[str, object]]:
    resp = requests.get(
        f"{hub.url}/api/v1/audit",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert resp.status_code == 200, resp.text
    entries: list[dict[str, object]] = resp.json()
    return entries


def test_named_admins_and_every_change_in_the_audit_log(
    tmp_path: Path, hub: HubProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    token = add_admin(hub, "ana", capsys)
    assert len(token) >= 40
    assert hub_cli(["admin", "add", "ana", "--data", str(hub.data)]) == 2
    assert "admin 'ana' exists" in capsys.readouterr().err
    db = sqlite3.connect(hub.data / "hub.sqlite3")
    stored = db.execute("SELECT token_sha256 FROM admins WHERE name = 'ana'").fetchone()[0]
    db.close()
    assert token not in (hub.data / "hub.sqlite3").read_bytes().decode("latin-1")
    assert len(stored) == 64

    def kiosk_admin(*args: str) -> int:
        base = ["--keys", str(tmp_path / "keys"), "--as", "Ana Lima"]
        return admin([*args, *base, "--hub", hub.url, "--token", token])

    make_set(tmp_path / "src", {"maria.wav": 1.0, "bob.wav": 1.0})
    assert kiosk_admin("publish", str(tmp_path / "src"), "--set", "lobby") == 0
    assert kiosk_admin("assign", "hall", "lobby") == 0
    assert kiosk_admin("retire", "lobby", "maria", "--reason", "withdrawn by email") == 0
    assert kiosk_admin("rollback", "lobby", "1") == 0
    args = ("--reinstate", "maria.wav", "--reason", "consent given again")
    assert kiosk_admin("publish", str(tmp_path / "src"), "--set", "lobby", *args) == 0
    capsys.readouterr()
    assert kiosk_admin("booth", "add", "--group", "hall", "--name", "Door") == 0
    enrollment = capsys.readouterr().out.strip()
    enrolled = requests.post(f"{hub.url}/api/v1/enroll", json={"token": enrollment}, timeout=5)
    booth_id = enrolled.json()["booth_id"]
    assert kiosk_admin("booth", "rename", booth_id, "Front door") == 0
    assert kiosk_admin("booth", "revoke", booth_id) == 0
    entries = list(reversed(audit(hub, token)))
    got = [(e["actor"], e["action"], e["subject"]) for e in entries]
    assert str(got[0][0]).startswith("server:")
    assert got[0][1:] == ("admin add", "admin ana")
    assert got[1:] == [
        ("ana", "publish", "set lobby"),
        ("ana", "assign", "group hall"),
        ("ana", "retire", "clip maria.opus"),
        ("ana", "rollback", "set lobby"),
        ("ana", "reinstate", "clip maria.opus"),
        ("ana", "booth add", "group hall"),
        ("ana", "booth rename", f"booth {booth_id}"),
        ("ana", "booth revoke", f"booth {booth_id}"),
    ]
    details = [str(e["detail"]) for e in entries]
    assert "withdrawn by email" in details[3] and "lobby v2" in details[3]
    assert "signed by Ana Lima" in details[3]
    assert "from version 1; retired clips left out: maria.opus" in details[4]
    assert "consent given again" in details[5] and "lobby v4" in details[5]
    assert [e["action"] for e in audit(hub, token, set="lobby")] == [
        "reinstate",
        "rollback",
        "retire",
        "assign",
        "publish",
    ]

    metrics = requests.get(
        f"{hub.url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert metrics.status_code == 200
    assert hub_cli(["admin", "revoke", "ana", "--data", str(hub.data)]) == 0
    resp = requests.get(
        f"{hub.url}/api/v1/audit", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert resp.status_code == 401
    last = audit(hub, hub.token)[0]
    assert (last["action"], last["subject"]) == ("admin revoke", "admin ana")
    assert hub_cli(["admin", "revoke", "ana", "--data", str(hub.data)]) == 2


def test_the_hub_refuses_a_publish_that_undoes_a_retirement(
    tmp_path: Path, hub: HubProcess
) -> None:
    """An older or hand-made client signs with the targets key but skips the consent checks."""
    keys = KeyStore(tmp_path / "keys")
    base = ["--hub", hub.url, "--token", hub.token, "--keys", str(tmp_path / "keys")]
    make_set(tmp_path / "src", {"maria.wav": 1.0, "bob.wav": 1.0})
    assert admin([*base, "publish", str(tmp_path / "src"), "--set", "lobby"]) == 0
    dest = HubDestination(hub.url, hub.token, keys.public("targets"))
    old = current_manifest(dest, "lobby")
    assert old is not None
    assert admin([*base, "retire", "lobby", "maria", "--reason", "withdrawn"]) == 0

    dropped = next_targets(dest.current_targets())
    put_register(dest, dropped, ConsentRegister())
    dropped.sign(keys.signer("targets"))
    with pytest.raises(RepositoryError, match=r"drops the retirement of maria\.opus"):
        dest.publish(dropped)

    current = dest.current_targets()
    back = next_targets(current)
    stage_manifest(dest, back, "lobby", current_manifest(dest, "lobby"), old.clips, "x", "publish")
    back.sign(keys.signer("targets"))
    with pytest.raises(RepositoryError, match=r"names retired clips \['maria\.opus'\]"):
        dest.publish(back)
    assert dest.current_targets().signed.version == current.signed.version
