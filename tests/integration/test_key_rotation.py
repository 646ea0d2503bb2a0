"""Keys an auditor accepts: encrypted, root apart and 2 of 3, every key rotated; booths follow
the new roots and old keys stop working."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest

from kiosk.admin.cli import main as admin
from kiosk.content.keys import KeyStore
from kiosk.sync.updater import SyncError
from tests.clipmaker import make_set
from tests.content import Publisher, booth_syncer
from tests.nginx import Nginx
from tests.softhsm import SoftHsm

TARGETS_PASS = "targets passphrase for the test"
ROOT_PASS = "root passphrase for the test"


@pytest.fixture
def passphrases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSK_ADMIN_PASSPHRASE", TARGETS_PASS)
    monkeypatch.setenv("KIOSK_ADMIN_ROOT_PASSPHRASE", ROOT_PASS)


def base_args(tmp_path: Path) -> list[str]:
    return ["--repo", str(tmp_path / "repo"), "--keys", str(tmp_path / "admin" / "keys"),
            "--online-keys", str(tmp_path / "online")]  # fmt: skip


def test_init_keeps_root_apart_encrypted_and_prints_its_fingerprint(
    tmp_path: Path, passphrases: None, capsys: pytest.CaptureFixture[str]
) -> None:
    base = base_args(tmp_path)
    assert admin([*base, "init", "--root-count", "3", "--root-threshold", "2"]) == 0
    out = capsys.readouterr().out
    root_json = tmp_path / "repo" / "metadata" / "1.root.json"
    fingerprint = hashlib.sha256(root_json.read_bytes()).hexdigest()
    assert f"root sha256: {fingerprint}" in out
    offline = tmp_path / "admin" / "offline-root"
    assert sorted(p.name for p in offline.glob("*.pem")) == [
        "root-1.pem", "root-2.pem", "root-3.pem"
    ]  # fmt: skip
    keys = tmp_path / "admin" / "keys"
    assert sorted(p.name for p in keys.glob("*.pem")) == ["targets.pem"]
    for pem in [*offline.glob("*.pem"), keys / "targets.pem"]:
        assert pem.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----"), pem
        assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert (tmp_path / "online" / "snapshot.pem").read_bytes().startswith(b"-----BEGIN PRIV")
    signed = json.loads(root_json.read_bytes())
    assert signed["signed"]["roles"]["root"]["threshold"] == 2
    assert len(signed["signed"]["roles"]["root"]["keyids"]) == 3
    assert admin([*base, "fingerprint"]) == 0
    assert capsys.readouterr().out.strip() == fingerprint


def test_a_wrong_or_missing_passphrase_is_refused(
    tmp_path: Path, passphrases: None, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    base = base_args(tmp_path)
    assert admin([*base, "init"]) == 0
    make_set(tmp_path / "src", {"a.wav": 0.5})
    monkeypatch.setenv("KIOSK_ADMIN_PASSPHRASE", "not the passphrase")
    assert admin([*base, "publish", str(tmp_path / "src"), "--set", "lobby"]) == 2
    assert "targets.pem: wrong passphrase" in capsys.readouterr().err
    monkeypatch.delenv("KIOSK_ADMIN_PASSPHRASE")
    assert admin([*base, "publish", str(tmp_path / "src"), "--set", "lobby"]) == 2
    assert "set KIOSK_ADMIN_PASSPHRASE" in capsys.readouterr().err
    secret = tmp_path / "pass.txt"
    secret.write_text(TARGETS_PASS + "\n")
    publish = ["publish", str(tmp_path / "src"), "--set", "lobby"]
    assert admin([*base, "--passphrase-file", str(secret), *publish]) == 0


def test_one_root_key_of_a_2_of_3_root_cannot_sign(tmp_path: Path, passphrases: None) -> None:
    base = base_args(tmp_path)
    assert admin([*base, "init", "--root-count", "3", "--root-threshold", "2"]) == 0
    offline = tmp_path / "admin" / "offline-root"
    away = tmp_path / "safe-deposit"
    away.mkdir()
    for n in (2, 3):  # two key holders are not here
        for suffix in (".pem", ".pub.json"):
            (offline / f"root-{n}{suffix}").rename(away / f"root-{n}{suffix}")
    assert admin([*base, "rotate-key", "targets"]) == 2
    assert not (tmp_path / "repo" / "metadata" / "2.root.json").exists()
    assert sorted(p.name for p in (tmp_path / "admin" / "keys").glob("*.pem")) == ["targets.pem"]


def test_rotations_are_followed_and_old_keys_refused(tmp_path: Path, passphrases: None) -> None:
    base = base_args(tmp_path)
    assert admin([*base, "init", "--root-count", "3", "--root-threshold", "2"]) == 0
    make_set(tmp_path / "src", {"a.wav": 0.5})
    assert admin([*base, "publish", str(tmp_path / "src"), "--set", "lobby"]) == 0
    root = tmp_path / "repo" / "metadata" / "1.root.json"
    with Nginx(tmp_path / "repo", tmp_path / "nginx") as nginx:
        syncer, store = booth_syncer(tmp_path / "booth", nginx.url, root, "lobby")
        store.activate(syncer.sync().folder)
        for role in ("root", "targets", "snapshot", "timestamp"):
            extra = ["--key", "root-2"] if role == "root" else []
            assert admin([*base, "rotate-key", role, *extra]) == 0
            syncer.sync()  # walks root v1 -> v2 -> ... and verifies with the new keys
        make_set(tmp_path / "src", {"a.wav": 0.5, "b.wav": 0.5})
        assert admin([*base, "publish", str(tmp_path / "src"), "--set", "lobby"]) == 0
        store.activate(syncer.sync().folder)
        assert (store.sets / "current" / "b.opus").is_file()
        assert (tmp_path / "booth" / "tuf" / "metadata" / "root_history" / "5.root.json").exists()
        offline = tmp_path / "admin" / "offline-root"
        assert (offline / "root-2.old1.pem").read_bytes().startswith(b"-----BEGIN ENCRYPTED")

        # Someone still holding the retired targets key signs new content: refused.
        from kiosk.admin.destination import LocalDestination
        from kiosk.admin.publishing import next_targets
        from kiosk.content.repository import Repository

        repo = Repository(tmp_path / "repo")
        online = KeyStore(tmp_path / "online")
        signers = {r: online.signer(r) for r in ("snapshot", "timestamp")}
        keys = KeyStore(tmp_path / "admin" / "keys", TARGETS_PASS.encode)
        dest = LocalDestination(repo, signers, keys.public("targets"))
        stale = next_targets(dest.current_targets())
        stale.sign(keys.signer("targets.old1"))
        with pytest.raises(Exception, match="not signed by the targets key"):
            repo.publish_targets(stale, signers)
        # ...and even if the hub wrote it anyway, the booth refuses it.
        (repo.metadata / f"{stale.signed.version}.targets.json").write_bytes(stale.to_bytes())
        repo._snapshot_and_timestamp(stale.signed.version, signers)
        with pytest.raises(SyncError) as e:
            syncer.sync()
        assert "UnsignedMetadataError" in e.value.reason
        assert (store.sets / "current" / "b.opus").is_file()


def test_a_repository_from_before_the_offline_root_folder_still_rotates(tmp_path: Path) -> None:
    """tests.content.Publisher keeps root.pem beside targets.pem, as `init` once did."""
    publisher = Publisher(tmp_path / "admin")
    base = ["--repo", str(publisher.repo.folder), "--keys", str(publisher.keys.folder),
            "--online-keys", str(publisher.online.folder)]  # fmt: skip
    assert not (tmp_path / "admin" / "offline-root").exists()
    assert admin([*base, "rotate-key", "targets"]) == 0
    assert publisher.repo.root().signed.version == 2


def test_targets_signed_on_a_hardware_token(
    tmp_path: Path, passphrases: None, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """SoftHSM stands in for a YubiKey: the targets key never leaves the token."""
    token = SoftHsm(tmp_path / "token")
    for name, value in token.env.items():
        monkeypatch.setenv(name, value)
    token.init_token()
    token.generate_key(2)
    token.generate_key(3)
    monkeypatch.setenv("KIOSK_ADMIN_TOKEN_PIN", token.pin)
    base = base_args(tmp_path)
    assert admin([*base, "init", "--targets-token-key", "2"]) == 0
    keys = tmp_path / "admin" / "keys"
    assert not list(keys.glob("*.pem"))
    assert json.loads((keys / "targets.pub.json").read_text())["uri"] == "hsm:2?label=kiosk-test"
    make_set(tmp_path / "src", {"a.wav": 0.5})
    assert admin([*base, "publish", str(tmp_path / "src"), "--set", "lobby"]) == 0
    root = tmp_path / "repo" / "metadata" / "1.root.json"
    with Nginx(tmp_path / "repo", tmp_path / "nginx") as nginx:
        syncer, store = booth_syncer(tmp_path / "booth", nginx.url, root, "lobby")
        store.activate(syncer.sync().folder)
        capsys.readouterr()
        monkeypatch.setenv("KIOSK_ADMIN_TOKEN_PIN", "000000")
        make_set(tmp_path / "src", {"a.wav": 0.5, "b.wav": 0.5})
        assert admin([*base, "publish", str(tmp_path / "src"), "--set", "lobby"]) == 2
        assert "hsm:2?label=kiosk-test: cannot sign: PinIncorrect" in capsys.readouterr().err
        monkeypatch.setenv("KIOSK_ADMIN_TOKEN_PIN", token.pin)
        assert admin([*base, "rotate-key", "targets", "--token-key", "3"]) == 0
        assert admin([*base, "publish", str(tmp_path / "src"), "--set", "lobby"]) == 0
        store.activate(syncer.sync().folder)  # root v2 trusts token key 3 for targets
        assert (store.sets / "current" / "b.opus").is_file()
