"""Every attack and fault is rejected, the old set keeps playing, and the reason is given.

Malicious repositories are made with python-tuf's own Metadata API; a hostile proxy in front of
Debian's nginx plays the broken network.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata
from tuf.api.serialization.json import JSONSerializer

from kiosk.content.repository import MAX_BYTES, RepositoryError
from kiosk.sync.fetcher import Fetcher, FetchLimits
from kiosk.sync.store import SetStore
from kiosk.sync.updater import Source, Syncer, SyncError
from tests.bad_proxy import BadProxy, Mode, TrickleTls
from tests.content import Publisher, booth_syncer
from tests.nginx import Nginx, self_signed


@dataclass
class World:
    publisher: Publisher
    nginx: Nginx
    syncer: Syncer
    store: SetStore
    good: Path  # the active set folder (version 1)
    state: Path

    def expect_rejected(self, state: str, reason: str, syncer: Syncer | None = None) -> str:
        with pytest.raises(SyncError) as e:
            (syncer or self.syncer).sync()
        assert e.value.state == state, e.value.reason
        assert reason in e.value.reason, e.value.reason
        self.assert_old_set_intact()
        return e.value.reason

    def assert_old_set_intact(self) -> None:
        assert self.store.active() == self.good
        files = sorted(p.name for p in self.good.iterdir())
        assert files == ["a.opus", "b.opus", "clipset.yaml"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    publisher = Publisher(tmp_path / "admin")
    publisher.publish_clips("lobby", {"a.wav": 0.6, "b.wav": 0.6})
    with Nginx(publisher.repo.folder, tmp_path / "nginx") as nginx:
        state = tmp_path / "booth"
        syncer, store = booth_syncer(state, nginx.url, publisher.root_json, "lobby")
        good = syncer.sync().folder
        store.activate(good)
        yield World(publisher, nginx, syncer, store, good, state)


def write_md(path: Path, md: Metadata) -> None:  # type: ignore[type-arg]
    path.write_bytes(md.to_bytes(JSONSerializer(compact=False)))


def resign_snapshot_timestamp(w: World, targets_version: int) -> None:
    """What a compromised hub can do: it holds the online keys."""
    w.publisher.repo._snapshot_and_timestamp(targets_version, w.publisher.online_signers())


def test_tampered_clip_bytes(world: World) -> None:
    world.publisher.publish_clips("lobby", {"a.wav": 0.6, "b.wav": 0.6, "c.wav": 0.6})
    info = next(
        t
        for t in world.publisher.repo.targets().signed.targets.values()
        if t.path.startswith("clips/") and not (world.store.clips / t.path[6:]).exists()
    )
    path = world.publisher.repo.target_path(info)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    world.expect_rejected("error", "do not match the signed hash")


def test_tampered_clipset_json(world: World) -> None:
    world.publisher.publish_clips("lobby", {"a.wav": 0.6, "b.wav": 0.6, "c.wav": 0.6})
    info = world.publisher.repo.targets().signed.targets["sets/lobby/clipset.json"]
    path = world.publisher.repo.target_path(info)
    path.write_bytes(path.read_bytes().replace(b'"Title a.wav"', b'"Title X.wav"'))
    world.expect_rejected("error", "LengthOrHashMismatchError")


def test_a_compromised_hub_cannot_sign_targets(world: World) -> None:
    """The hub has the online keys only: targets it signs itself are refused."""
    repo = world.publisher.repo
    evil = repo.new_targets()
    evil_bytes = b"OggS not a customer"
    info = repo.add_target_bytes(f"clips/{hashlib.sha256(evil_bytes).hexdigest()}.opus", evil_bytes)
    evil.signed.targets[info.path] = info
    evil.sign(world.publisher.online.signer("snapshot"))
    write_md(repo.metadata / f"{evil.signed.version}.targets.json", evil)
    resign_snapshot_timestamp(world, evil.signed.version)
    world.expect_rejected("error", "UnsignedMetadataError")


def test_metadata_signed_by_a_wrong_key(world: World) -> None:
    repo = world.publisher.repo
    ts = repo.timestamp()
    ts.signatures.clear()
    ts.signed.version += 1
    ts.sign(CryptoSigner.generate_ed25519())
    write_md(repo.metadata / "timestamp.json", ts)
    world.expect_rejected("error", "UnsignedMetadataError")


def test_rollback_to_an_older_version(world: World) -> None:
    repo = world.publisher.repo
    old_timestamp = (repo.metadata / "timestamp.json").read_bytes()
    world.publisher.publish_clips("lobby", {"a.wav": 0.6, "b.wav": 0.6, "c.wav": 0.6})
    newer = world.syncer.sync()
    world.store.activate(newer.folder)
    world.good = newer.folder
    (repo.metadata / "timestamp.json").write_bytes(old_timestamp)
    with pytest.raises(SyncError) as e:
        world.syncer.sync()
    assert "BadVersionNumberError" in e.value.reason
    assert world.store.active() == newer.folder


def test_freeze_expired_metadata_keeps_playing_and_reports_stale(tmp_path: Path) -> None:
    """A server that serves a timestamp that has expired, forever."""
    past = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=60)
    publisher = Publisher(tmp_path / "admin", clock=lambda: past)
    publisher.publish_clips("lobby", {"a.wav": 0.6, "b.wav": 0.6})
    with Nginx(publisher.repo.folder, tmp_path / "nginx") as nginx:
        syncer, _store = booth_syncer(tmp_path / "booth", nginx.url, publisher.root_json, "lobby")
        with pytest.raises(SyncError) as e:
            syncer.sync()
    assert e.value.state == "stale" and "expired" in e.value.reason


def test_frozen_after_a_good_sync(world: World) -> None:
    repo = world.publisher.repo
    ts = repo.timestamp()
    ts.signatures.clear()
    ts.signed.version += 1
    ts.signed.expires = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=1)
    ts.sign(world.publisher.online.signer("timestamp"))
    write_md(repo.metadata / "timestamp.json", ts)
    world.expect_rejected("stale", "timestamp.json is expired")


def test_mix_and_match_snapshot(world: World) -> None:
    """A snapshot from another version served under the name the timestamp signed."""
    repo = world.publisher.repo
    world.publisher.publish_clips("lobby", {"a.wav": 0.6, "c.wav": 0.6})
    current = repo.timestamp().signed.snapshot_meta.version
    other = (repo.metadata / f"{current - 1}.snapshot.json").read_bytes()
    (repo.metadata / f"{current}.snapshot.json").write_bytes(other)
    world.expect_rejected("error", "rejected by TUF")


def test_endless_metadata(world: World) -> None:
    repo = world.publisher.repo
    ts = repo.timestamp()
    ts.signatures.clear()
    ts.signed.version += 1
    ts.signed.unrecognized_fields["padding"] = "x" * 100_000
    ts.sign(world.publisher.online.signer("timestamp"))
    write_md(repo.metadata / "timestamp.json", ts)
    world.expect_rejected("error", "DownloadLengthMismatchError")


def test_targets_metadata_over_the_cap_is_refused_by_the_admin_and_the_booth(world: World) -> None:
    repo = world.publisher.repo
    big = repo.new_targets()
    big.signed.unrecognized_fields["padding"] = "x" * MAX_BYTES["targets"]
    big.sign(world.publisher.keys.signer("targets"))
    with pytest.raises(RepositoryError, match="booths accept"):
        repo.publish_targets(big, world.publisher.online_signers())
    write_md(repo.metadata / f"{big.signed.version}.targets.json", big)  # a hostile repository
    resign_snapshot_timestamp(world, big.signed.version)
    world.expect_rejected("error", "DownloadLengthMismatchError")


def test_endless_clip_data(world: World) -> None:
    world.publisher.publish_clips("lobby", {"a.wav": 0.6, "b.wav": 0.6, "c.wav": 0.6})
    for info in world.publisher.repo.targets().signed.targets.values():
        path = world.publisher.repo.target_path(info)
        if info.path.startswith("clips/"):
            with path.open("ab") as f:
                f.write(b"\0" * 5_000_000)
    world.expect_rejected("error", "more than the signed length")


def test_server_failing_every_other_request(world: World) -> None:
    world.publisher.publish_clips("lobby", {"a.wav": 0.6, "b.wav": 0.6, "c.wav": 0.6})
    with BadProxy(world.nginx.url, "fail_every_other") as proxy:
        syncer, _ = booth_syncer(world.state, proxy.url, world.publisher.root_json, "lobby")
        outcomes = []
        for _ in range(10):
            try:
                result = syncer.sync()
            except SyncError as e:
                assert e.state == "error" and "500" in e.reason
                world.assert_old_set_intact()
                outcomes.append("error")
                continue
            outcomes.append("ok")
            break
    assert outcomes[-1] == "ok" and result.version == 2, outcomes


def test_connection_cut_mid_file_resumes_with_range(world: World) -> None:
    world.publisher.publish_clips("lobby", {"a.wav": 0.6, "b.wav": 0.6, "long.wav": 3.0})
    with BadProxy(world.nginx.url, "cut_clips", cut_after=8000) as proxy:
        syncer, _ = booth_syncer(world.state, proxy.url, world.publisher.root_json, "lobby")
        for _ in range(20):
            try:
                result = syncer.sync()
                break
            except SyncError as e:
                assert "connection failed mid-file" in e.reason or "Content-Range" in e.reason
                world.assert_old_set_intact()
        else:
            pytest.fail("never completed")
    ranges = [r for p, r in proxy.seen if "/clips/" in p and r]
    assert ranges and all(r.startswith("bytes=") for r in ranges)
    assert result.version == 2


@pytest.mark.parametrize(
    "mode", ["trickle_status", "trickle_headers", "trickle_redirect", "trickle"]
)
def test_a_trickle_at_any_stage_cannot_hold_a_sync_past_its_deadline(
    world: World, mode: Mode
) -> None:
    """1 byte each 0.1 s (under the read timeout) would take minutes; the deadline is 1.5 s."""
    world.publisher.publish_clips("lobby", {"a.wav": 0.6, "b.wav": 0.6, "c.wav": 0.6})
    limits = FetchLimits(read_timeout_s=5, file_deadline_s=1.5, sync_deadline_s=3)
    with BadProxy(world.nginx.url, mode, pause_s=0.1) as proxy:
        syncer, _ = booth_syncer(world.state, proxy.url, world.publisher.root_json, "lobby", limits)
        world.expect_rejected("stale", "deadline", syncer)
        for _ in range(100):  # the proxy sees the hang-up at its next write
            if proxy.trickles_cut:
                break
            time.sleep(0.05)
        assert proxy.trickles_cut >= 1
        assert proxy.trickles_finished == 0  # the booth hung up mid-trickle, every time


def test_a_trickle_over_tls_cannot_hold_a_sync_past_its_deadline(
    world: World, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    limits = FetchLimits(read_timeout_s=5, file_deadline_s=1.5, sync_deadline_s=3)
    with BadProxy(world.nginx.url, "trickle_headers", pause_s=0.1, tls=(cert, key)) as proxy:
        session = requests.Session()
        session.verify = str(cert)
        session.trust_env = False  # else $REQUESTS_CA_BUNDLE would win over `verify`
        store = SetStore(world.state)
        source = Source(proxy.url, world.publisher.root_json, "lobby")
        syncer = Syncer(source, store, Fetcher(limits, session), world.state)
        try:
            world.expect_rejected("stale", "deadline", syncer)
        finally:
            syncer.close()
        assert proxy.count >= 1 and proxy.trickles_finished == 0


def test_a_trickled_tls_handshake_cannot_hold_a_sync_past_its_deadline(world: World) -> None:
    limits = FetchLimits(connect_timeout_s=5, file_deadline_s=1.5, sync_deadline_s=3)
    with TrickleTls(pause_s=0.1) as server:
        root = world.publisher.root_json
        syncer, _ = booth_syncer(world.state, server.url, root, "lobby", limits)
        world.expect_rejected("stale", "deadline", syncer)
        for _ in range(100):  # the server sees the hang-up at its next write
            if server.cut:
                break
            time.sleep(0.05)
        assert server.cut >= 1 and server.finished == 0


def test_redirects_are_capped(world: World) -> None:
    with BadProxy(world.nginx.url, "redirect_loop") as proxy:
        syncer, _ = booth_syncer(world.state, proxy.url, world.publisher.root_json, "lobby")
        world.expect_rejected("error", "more than 3 redirects", syncer)
    assert len(proxy.seen) == 4  # the first request and 3 redirects


def test_a_set_that_would_eat_the_reserve_is_not_downloaded(world: World) -> None:
    world.publisher.publish_clips("lobby", {"a.wav": 0.6, "b.wav": 0.6, "c.wav": 0.6})
    reserve = shutil.disk_usage(world.state).free + 2**30  # more than the disk has free
    root = world.publisher.root_json
    syncer, _ = booth_syncer(world.state, world.nginx.url, root, "lobby", reserve_bytes=reserve)
    reason = world.expect_rejected("error", "not enough disk space", syncer)
    assert "sync.reserve_mb keeps" in reason and "lobby version 2 needs" in reason
    assert not list(world.store.partial.iterdir())  # not a byte of a clip was fetched
    assert world.syncer.sync().version == 2  # with room to spare it goes through


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_disk_full_during_a_sync(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path / "admin")
    publisher.publish_clips("lobby", {"a.wav": 0.6})
    mount = tmp_path / "sd"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)]).returncode:
        pytest.skip("cannot mount tmpfs here")
    try:
        with Nginx(publisher.repo.folder, tmp_path / "nginx") as nginx:
            syncer, store = booth_syncer(mount, nginx.url, publisher.root_json, "lobby")
            good = syncer.sync().folder
            store.activate(good)
            publisher.publish_clips("lobby", {"a.wav": 0.6, "big.wav": 30.0})
            filler = mount / "filler"
            filler.write_bytes(b"\0" * (os.statvfs(mount).f_bavail * 4096 - 20_000))
            with pytest.raises(SyncError) as e:
                syncer.sync()
            assert "not enough disk space" in e.value.reason  # checked before downloading
            assert not list(store.partial.iterdir())
            assert store.active() == good and (good / "a.opus").is_file()
            assert not list(store.sets.glob(".staging-*"))
            filler.unlink()
            store.activate(syncer.sync().folder)
            assert store.active() is not None and store.active() != good
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def flip_byte(path: Path) -> None:
    """What a worn SD card does: same name, same length, same inode, one byte different."""
    with path.open("r+b") as f:
        f.seek(path.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0x01]))


def all_match(folder: Path, store: SetStore) -> bool:
    return all(
        hashlib.sha256((folder / c).read_bytes()).hexdigest() == sha
        for c, sha in clip_hashes(folder, store).items()
    )


def clip_hashes(folder: Path, store: SetStore) -> dict[str, str]:
    """The signed hash of each clip in a staged folder, from the cache entry it links to."""
    by_inode = {p.stat().st_ino: p.name.split(".")[0] for p in store.clips.iterdir()}
    return {p.name: by_inode[p.stat().st_ino] for p in folder.glob("*.opus")}


def test_a_flipped_byte_in_the_active_set_heals_at_the_next_sync(world: World) -> None:
    signed = clip_hashes(world.good, world.store)
    flip_byte(world.good / "a.opus")
    heard: list[tuple[str, tuple[str, ...]]] = []
    world.syncer.healed = lambda set_name, files: heard.append((set_name, files))
    healed = world.syncer.sync()
    assert heard == [("lobby", ("a.opus",))]  # the booth reports it: a `heal` event
    assert (healed.set_name, healed.version) == ("lobby", 1)
    assert healed.folder != world.good and healed.folder.name == "lobby-v1-r2"
    assert healed.downloaded_bytes > 0  # a.opus again, from the repository
    # Noticed: the bad bytes are gone from the active set at once, never to play again.
    assert not (world.good / "a.opus").exists()
    assert (world.good / "b.opus").is_file()
    assert clip_hashes(healed.folder, world.store) == signed
    assert all_match(healed.folder, world.store)
    world.store.activate(healed.folder)
    inode = (healed.folder / "a.opus").stat().st_ino
    again = world.syncer.sync()  # the healed folder is checked by content and reused
    assert again.folder == healed.folder and (healed.folder / "a.opus").stat().st_ino == inode


def test_a_corrupt_file_is_reported_once_while_its_heal_keeps_failing(world: World) -> None:
    flip_byte(world.good / "a.opus")
    heard: list[tuple[str, tuple[str, ...]]] = []
    world.syncer.healed = lambda set_name, files: heard.append((set_name, files))
    world.syncer.reserve_bytes = shutil.disk_usage(world.state).free + 2**30  # no room to heal
    for _ in range(3):
        with pytest.raises(SyncError, match="not enough disk space"):
            world.syncer.sync()
    assert not (world.good / "a.opus").exists()  # its bad bytes went at once all the same
    world.syncer.reserve_bytes = 0
    healed = world.syncer.sync()
    assert healed.folder.name == "lobby-v1-r2" and all_match(healed.folder, world.store)
    assert heard == [("lobby", ("a.opus",))]  # one heal event, not one per failed sync


def test_a_flipped_byte_in_the_cache_is_fetched_again_before_staging(world: World) -> None:
    world.publisher.publish_clips("lobby", {"a.wav": 0.6, "b.wav": 0.6, "c.wav": 0.6})
    cached = world.store.clips / next(
        p.name
        for p in world.store.clips.iterdir()
        if p.stat().st_ino == (world.good / "b.opus").stat().st_ino
    )
    flip_byte(cached)
    heard: list[tuple[str, tuple[str, ...]]] = []
    world.syncer.healed = lambda set_name, files: heard.append((set_name, files))
    result = world.syncer.sync()
    assert result.version == 2 and all_match(result.folder, world.store)
    assert heard == [("lobby", ("b.opus",))]
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == cached.name.split(".")[0]
    assert not (world.good / "b.opus").exists()  # the same bad inode left the active set too


def test_a_bad_partial_download_is_discarded_and_the_next_sync_succeeds(world: World) -> None:
    """A man in the middle sent wrong bytes and cut the connection: the part file is bad."""
    world.publisher.publish_clips("lobby", {"a.wav": 0.6, "b.wav": 0.6, "c.wav": 0.6})
    info = next(
        t
        for t in world.publisher.repo.targets().signed.targets.values()
        if t.path.startswith("clips/") and not (world.store.clips / t.path[6:]).exists()
    )
    part = world.store.partial_path(info.hashes["sha256"])
    part.write_bytes(b"\0" * (info.length // 2))
    result = world.syncer.sync()  # the very next sync, with the real server
    assert result.version == 2 and all_match(result.folder, world.store)
    assert not part.exists()
