"""Rotating the targets and online keys: booths follow the new root; old keys stop working."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.admin.cli import main as admin
from kiosk.content.keys import KeyStore
from kiosk.sync.updater import SyncError
from tests.clipmaker import make_set
from tests.content import booth_syncer
from tests.nginx import Nginx


def test_rotations_are_followed_and_old_keys_refused(tmp_path: Path) -> None:
    base = ["--repo", str(tmp_path / "repo"), "--keys", str(tmp_path / "keys"),
            "--online-keys", str(tmp_path / "online")]  # fmt: skip
    assert admin([*base, "init"]) == 0
    make_set(tmp_path / "src", {"a.wav": 0.5})
    assert admin([*base, "publish", str(tmp_path / "src"), "--set", "lobby"]) == 0
    root = tmp_path / "repo" / "metadata" / "1.root.json"
    with Nginx(tmp_path / "repo", tmp_path / "nginx") as nginx:
        syncer, store = booth_syncer(tmp_path / "booth", nginx.url, root, "lobby")
        store.activate(syncer.sync().folder)
        for role in ("targets", "snapshot", "timestamp"):
            assert admin([*base, "rotate-key", role]) == 0
            syncer.sync()  # walks root v1 -> v2 -> ... and verifies with the new keys
        make_set(tmp_path / "src", {"a.wav": 0.5, "b.wav": 0.5})
        assert admin([*base, "publish", str(tmp_path / "src"), "--set", "lobby"]) == 0
        store.activate(syncer.sync().folder)
        assert (store.sets / "current" / "b.opus").is_file()
        assert (tmp_path / "booth" / "tuf" / "metadata" / "root_history" / "4.root.json").exists()

        # Someone still holding the retired targets key signs new content: refused.
        from kiosk.admin.destination import LocalDestination
        from kiosk.admin.publishing import next_targets
        from kiosk.content.repository import Repository

        repo = Repository(tmp_path / "repo")
        online = KeyStore(tmp_path / "online")
        signers = {r: online.signer(r) for r in ("snapshot", "timestamp")}
        keys = KeyStore(tmp_path / "keys")
        dest = LocalDestination(repo, signers, keys.public("targets"))
        stale = next_targets(dest.current_targets())
        old = KeyStore(tmp_path / "keys")
        stale.sign(old.signer("targets.old1"))
        with pytest.raises(Exception, match="not signed by the targets key"):
            repo.publish_targets(stale, signers)
        # ...and even if the hub wrote it anyway, the booth refuses it.
        (repo.metadata / f"{stale.signed.version}.targets.json").write_bytes(stale.to_bytes())
        repo._snapshot_and_timestamp(stale.signed.version, signers)
        with pytest.raises(SyncError) as e:
            syncer.sync()
        assert "UnsignedMetadataError" in e.value.reason
        assert (store.sets / "current" / "b.opus").is_file()
