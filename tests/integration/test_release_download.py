"""Releases end to end on real parts: `kiosk-admin release` into a signed repository, Debian's
nginx serving it on 127.0.0.1 (a hostile proxy in front where the network misbehaves), and the
booth's sync thread downloading, verifying and staging the release (kiosk.update)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Targets

from kiosk.admin.release import assign_release, release
from kiosk.events import SyncReady, UpdateProgress
from kiosk.release.manifest import CHANNELS, parse_release, release_target
from kiosk.sync.fetcher import FetchLimits
from tests.bad_proxy import BadProxy
from tests.content import Publisher
from tests.nginx import Nginx
from tests.releases import ReleaseBooth, WheelFactory, tiny_wheel

RUNNING = "2.0.0"


@dataclass
class World:
    publisher: Publisher
    nginx: Nginx
    wheels: WheelFactory
    base: Path
    booths: list[ReleaseBooth]

    def release(self, dist: Path, channel: str = "stable") -> None:
        release(dist, channel, self.publisher.destination(), self.publisher.keys.signer("targets"))

    def house(self, version: str, deps: dict[str, str] | None = None) -> Path:
        """The project wheel at `version` with two small dependencies (and a wheel that fits
        no booth here: an armv7 build of one of them)."""
        deps = {"dep-one": "1.0", "dep-two": "1.0"} if deps is None else deps
        folder = self.wheels.wheelhouse(version, deps)
        if "dep-two" in deps:
            shutil.copy2(
                tiny_wheel(self.base / "armv7", "dep-two", "1.0", size=4096),
                folder / "dep_two-1.0-cp311-cp311-linux_armv7l.whl",
            )
        return folder

    def booth(
        self, url: str = "", running: str = RUNNING, group: str = "", reserve_bytes: int = 0
    ) -> ReleaseBooth:
        state = self.base / f"booth{len(self.booths)}"
        booth = ReleaseBooth(
            state,
            url or self.nginx.url,
            self.publisher.root_json,
            running,
            group=group,
            reserve_bytes=reserve_bytes,
        )
        self.booths.append(booth)
        return booth

    def target_file(self, path: str) -> Path:
        info = self.publisher.repo.targets().signed.targets[path]
        return self.publisher.repo.target_path(info)

    def resign_targets(self, edit: Callable[[Targets], object]) -> None:
        """What the holder of the targets key can sign: `edit(targets)`, then publish."""
        repo = self.publisher.repo
        md = Metadata[Targets].from_bytes(repo.targets().to_bytes())
        md.signatures.clear()
        md.signed.version += 1
        edit(md.signed)
        md.sign(self.publisher.keys.signer("targets"))
        repo.publish_targets(md, self.publisher.online_signers())


@pytest.fixture
def world(tmp_path: Path, release_wheels: WheelFactory) -> Iterator[World]:
    publisher = Publisher(tmp_path / "admin")
    publisher.publish_clips("lobby", {"a.wav": 0.5})
    with Nginx(publisher.repo.folder, tmp_path / "nginx") as nginx:
        w = World(publisher, nginx, release_wheels, tmp_path, [])
        yield w
        for booth in w.booths:
            booth.close()


def wheel_requests(nginx: Nginx) -> list[str]:
    return [line.split()[1] for line in nginx.requests_logged() if "/targets/wheels/" in line]


def test_release_then_sync_stages_the_release_with_exact_files(world: World) -> None:
    old_umask = os.umask(0o077)  # as the service runs (UMask=0077): the helper must read it all
    try:
        world.release(world.house("2.1.0"))
        booth = world.booth()
        posted = booth.run()
    finally:
        os.umask(old_umask)
    assert isinstance(posted[0], SyncReady)  # the clip sync is unaffected
    states = [(p.state, p.version) for p in posted if isinstance(p, UpdateProgress)]
    assert states == [("downloading", "2.1.0"), ("staged", "2.1.0")], posted
    repo = world.publisher.repo
    staged = booth.dir.staged
    assert (staged / "release.json").read_bytes() == world.target_file(
        release_target("2.1.0")
    ).read_bytes()
    # The signed channels, for the helper to honour a pin (kiosk.release.manifest).
    assert (staged / "channels.json").read_bytes() == world.target_file(CHANNELS).read_bytes()
    rel = parse_release((staged / "release.json").read_bytes(), "release.json")
    assert rel.version == "2.1.0" and rel.python == "3.11" and "linux_armv7l" in rel.platforms
    snapshot = repo.timestamp().signed.snapshot_meta.version
    targets = repo.snapshot().signed.meta["targets.json"].version
    assert sorted(p.name for p in (staged / "metadata").iterdir()) == sorted(
        ["1.root.json", "timestamp.json", f"{snapshot}.snapshot.json", f"{targets}.targets.json"]
    )
    for name in ("1.root.json", "timestamp.json", f"{targets}.targets.json"):
        assert (staged / "metadata" / name).read_bytes() == (repo.metadata / name).read_bytes()
    # One wheel per distribution, the one that fits this interpreter: not the armv7 build.
    cached = sorted(p.name for p in booth.dir.wheels.glob("*/*"))
    project = world.wheels.project("2.1.0").name
    assert cached == ["dep_one-1.0-py3-none-any.whl", "dep_two-1.0-py3-none-any.whl", project]
    for wheel in booth.dir.wheels.glob("*/*"):
        assert hashlib.sha256(wheel.read_bytes()).hexdigest() == wheel.parent.name
    assert json.loads(booth.dir.request.read_bytes()) == {"version": "2.1.0"}
    for path in [booth.dir.root, *booth.dir.root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))
    # The next sync finds it staged: no wheel is fetched again.
    before = len(wheel_requests(world.nginx))
    again = booth.run()
    assert [p.state for p in again if isinstance(p, UpdateProgress)] == ["staged"]
    assert len(wheel_requests(world.nginx)) == before


def test_only_the_project_wheel_is_downloaded_when_the_dependencies_are_cached(
    world: World,
) -> None:
    world.release(world.house("2.1.0"))
    booth = world.booth()
    booth.run()
    world.release(world.house("2.2.0"))
    before = booth.fetcher.bytes
    seen = len(wheel_requests(world.nginx))
    booth.run()
    assert booth.last_update() == UpdateProgress("staged", "2.2.0", "", booth.last_update().at)
    fetched = wheel_requests(world.nginx)[seen:]
    project = world.wheels.project("2.2.0")
    assert len(fetched) == 1 and fetched[0].endswith(project.name)
    metadata = sum(
        p.stat().st_size for p in (booth.dir.staged / "metadata").iterdir() if "root" not in p.name
    )
    manifest = (booth.dir.staged / "release.json").stat().st_size
    assert booth.fetcher.bytes - before <= project.stat().st_size + metadata + manifest + 4096
    # 2.1.0's project wheel is neither staged nor running: gone from the cache.
    names = sorted(p.name for p in booth.dir.wheels.glob("*/*"))
    assert world.wheels.project("2.1.0").name not in names and project.name in names


def test_a_cut_download_resumes_with_range_without_fetching_bytes_again(world: World) -> None:
    house = world.house("2.1.0", {})
    tiny_wheel(house, "big-dep", "1.0", size=900_000)
    world.release(house)
    cut = 200_000
    with BadProxy(world.nginx.url, "cut_wheels", cut_after=cut) as proxy:
        booth = world.booth(proxy.url)
        for _ in range(100):
            booth.run()
            if booth.last_update().state == "staged":
                break
            assert "connection failed mid-file" in booth.last_update().reason
        else:
            pytest.fail("never staged")
    for wheel in ("big_dep-1.0-py3-none-any.whl", world.wheels.project("2.1.0").name):
        asked = [r for p, r in proxy.seen if p.endswith(wheel)]
        # Each request starts where the cut one ended: no byte is fetched twice.
        starts = [int(r.removeprefix("bytes=").rstrip("-")) if r else 0 for r in asked]
        assert starts == [i * cut for i in range(len(starts))], (wheel, asked)
    assert len([r for p, r in proxy.seen if p.endswith("big_dep-1.0-py3-none-any.whl")]) == 5


def test_a_channel_moved_back_is_refused_without_a_pin_and_a_pin_moves_the_booth(
    world: World,
) -> None:
    world.release(world.house("1.9.0"))
    booth = world.booth(group="lobby-booths")
    booth.run()
    progress = booth.last_update()
    assert progress.state == "idle" and "older than the running 2.0.0" in progress.reason
    assert not booth.dir.staged.exists() and wheel_requests(world.nginx) == []
    # The admin cannot move a channel back, and the holder of the targets key who does it
    # anyway (a re-signed channels.json) is refused by the booth all the same.
    world.release(world.house("2.1.0"))
    with pytest.raises(Exception, match="never moves back"):
        world.release(world.wheels.wheelhouse("1.9.0", {}, name="again-1.9.0"))
    old = world.publisher.repo.targets().signed.targets
    data = json.loads(world.target_file(CHANNELS).read_bytes())
    data["channels"]["stable"] = "1.9.0"
    forged = json.dumps(data).encode()
    info = world.publisher.destination().put_target(CHANNELS, forged)
    world.resign_targets(lambda t: t.targets.__setitem__(CHANNELS, info))
    assert old[CHANNELS] != info
    booth.run()
    assert booth.last_update().state == "idle" and not booth.dir.staged.exists()
    # A pin (kiosk-admin assign-release GROUP VERSION) does move it back.
    assign_release(
        world.publisher.destination(),
        world.publisher.keys.signer("targets"),
        "lobby-booths",
        "1.9.0",
    )
    booth.run()
    assert booth.last_update().state == "staged"
    assert json.loads(booth.dir.request.read_bytes()) == {"version": "1.9.0"}


def test_replayed_older_metadata_is_refused(world: World) -> None:
    repo = world.publisher.repo
    world.release(world.house("1.9.0"))
    old_timestamp = (repo.metadata / "timestamp.json").read_bytes()
    world.release(world.house("2.1.0"))
    booth = world.booth()
    booth.run()
    assert booth.last_update().state == "staged"
    (repo.metadata / "timestamp.json").write_bytes(old_timestamp)
    booth.run()
    progress = booth.last_update()
    assert progress.state == "failed" and "refreshed" in progress.reason
    assert json.loads(booth.dir.request.read_bytes()) == {"version": "2.1.0"}


def test_an_altered_wheel_is_refused_and_the_clip_sync_stands(world: World) -> None:
    world.release(world.house("2.1.0"))
    path = world.target_file(
        next(p for p in world.publisher.repo.targets().signed.targets if "dep_one" in p)
    )
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    booth = world.booth()
    posted = booth.run()
    assert isinstance(posted[0], SyncReady)
    progress = booth.last_update()
    assert progress.state == "failed" and "do not match the signed hash" in progress.reason
    assert progress.version == "2.1.0"
    assert not booth.dir.staged.exists() and not booth.dir.request.exists()
    assert not list(booth.dir.wheels.glob("*/dep_one*"))


def test_a_wheel_that_is_not_a_signed_target_is_refused(world: World) -> None:
    world.release(world.house("2.1.0"))
    path = next(p for p in world.publisher.repo.targets().signed.targets if "dep_two-1.0-py3" in p)
    world.resign_targets(lambda t: t.targets.pop(path))
    booth = world.booth()
    booth.run()
    progress = booth.last_update()
    assert progress.state == "failed" and "is not a signed target" in progress.reason
    assert not booth.dir.staged.exists()


def test_a_wheel_with_the_right_hash_and_the_wrong_length_is_refused(world: World) -> None:
    world.release(world.house("2.1.0"))
    path = next(p for p in world.publisher.repo.targets().signed.targets if "dep_two-1.0-py3" in p)

    def longer(t: Targets) -> None:
        t.targets[path].length += 100

    with world.target_file(path).open("ab") as f:  # the served file has those bytes too
        f.write(b"\0" * 100)

    world.resign_targets(longer)
    booth = world.booth()
    booth.run()
    progress = booth.last_update()
    assert progress.state == "failed" and "release.json says" in progress.reason
    assert not booth.dir.staged.exists()


def test_a_release_manifest_of_another_version_is_refused(world: World) -> None:
    """Mix and match: 1.9.0's signed release.json served where 2.1.0's should be."""
    world.release(world.house("1.9.0"))
    world.release(world.house("2.1.0"))
    world.target_file(release_target("2.1.0")).write_bytes(
        world.target_file(release_target("1.9.0")).read_bytes()
    )
    booth = world.booth()
    booth.run()
    progress = booth.last_update()
    assert progress.state == "failed" and "rejected by TUF" in progress.reason
    assert not booth.dir.staged.exists()


def test_an_expired_timestamp_reports_stale_and_stages_nothing(world: World) -> None:
    import datetime as dt

    world.release(world.house("2.1.0"))
    repo = world.publisher.repo
    ts = repo.timestamp()
    ts.signatures.clear()
    ts.signed.version += 1
    ts.signed.expires = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=1)
    ts.sign(world.publisher.online.signer("timestamp"))
    (repo.metadata / "timestamp.json").write_bytes(ts.to_bytes())
    booth = world.booth()
    posted = booth.run()
    sync = posted[0]
    assert getattr(sync, "state", "") == "stale"  # SyncFailed: the content sync says stale
    progress = booth.last_update()
    assert progress.state == "failed" and "(stale): signed metadata expired" in progress.reason
    assert not booth.dir.staged.exists()


def test_a_bad_version_is_not_downloaded_again(world: World) -> None:
    world.release(world.house("2.1.0"))
    booth = world.booth()
    booth.status_file.write_text(
        json.dumps({"state": "rolled_back", "version": "2.1.0", "bad": ["2.1.0"], "at": 1})
    )
    booth.run()
    progress = booth.last_update()
    assert progress.state == "idle" and "rolled back on this booth" in progress.reason
    assert wheel_requests(world.nginx) == [] and not booth.dir.staged.exists()


def test_a_release_that_would_eat_the_disk_reserve_is_not_downloaded(world: World) -> None:
    world.release(world.house("2.1.0"))
    free = shutil.disk_usage(world.base).free
    booth = world.booth(reserve_bytes=free + 2**30)  # more than the disk has free
    posted = booth.run()
    assert isinstance(posted[0], SyncReady)  # its clip set (no reserve in this test) is staged
    progress = booth.last_update()
    assert progress.state == "failed" and progress.version == "2.1.0", progress
    assert "release 2.1.0 needs" in progress.reason and "sync.reserve_mb keeps" in progress.reason
    assert wheel_requests(world.nginx) == [] and not booth.dir.staged.exists()
    # Room again (an admin freed the disk): the next sync downloads and stages it.
    booth.downloader.reserve_bytes = 0
    booth.run()
    assert booth.last_update().state == "staged"


def test_no_staging_while_the_handset_is_lifted(world: World) -> None:
    world.release(world.house("2.1.0"))
    booth = world.booth()
    booth.run()  # the clip set is staged; the release too
    world.release(world.house("2.2.0"))
    booth.worker.on_hook.clear()  # lifted
    thread = threading.Thread(target=booth.worker.run_once)
    thread.start()
    project = world.wheels.project("2.2.0")
    part = next(iter(booth.dir.wheels.glob("*")), None)
    for _ in range(500):  # until the download is done and the thread waits for the hook
        parts = list(booth.dir.wheels.glob(f"*/{project.name}.part"))
        if parts and parts[0].stat().st_size == project.stat().st_size:
            break
        time.sleep(0.02)
    else:
        pytest.fail(f"no complete download ({part})")
    assert thread.is_alive()
    assert json.loads(booth.dir.request.read_bytes()) == {"version": "2.1.0"}
    assert not list(booth.dir.wheels.glob(f"*/{project.name}"))  # not committed yet
    booth.worker.on_hook.set()
    thread.join(30)
    assert booth.last_update().state == "staged"
    assert json.loads(booth.dir.request.read_bytes()) == {"version": "2.2.0"}


def test_a_compromised_hub_cannot_sign_a_release(world: World) -> None:
    """The hub holds the online keys only: a channel and release it signs itself are refused,
    and the release staged before stays as it was."""
    world.release(world.house("2.1.0"))
    booth = world.booth()
    booth.run()
    repo = world.publisher.repo
    evil = repo.new_targets()
    data = json.loads(world.target_file(CHANNELS).read_bytes())
    data["channels"]["stable"] = "6.6.6"
    info = repo.add_target_bytes(CHANNELS, json.dumps(data).encode())
    evil.signed.targets[info.path] = info
    evil.sign(world.publisher.online.signer("snapshot"))
    (repo.metadata / f"{evil.signed.version}.targets.json").write_bytes(evil.to_bytes())
    repo._snapshot_and_timestamp(evil.signed.version, world.publisher.online_signers())
    booth.run()
    progress = booth.last_update()
    assert progress.state == "failed" and "UnsignedMetadataError" in progress.reason
    assert json.loads(booth.dir.request.read_bytes()) == {"version": "2.1.0"}


def test_mix_and_match_snapshot_is_refused(world: World) -> None:
    world.release(world.house("1.9.0"))
    world.release(world.house("2.1.0"))
    repo = world.publisher.repo
    current = repo.timestamp().signed.snapshot_meta.version
    other = (repo.metadata / f"{current - 1}.snapshot.json").read_bytes()
    (repo.metadata / f"{current}.snapshot.json").write_bytes(other)
    booth = world.booth(running="1.0.0")
    booth.run()
    progress = booth.last_update()
    assert progress.state == "failed" and "rejected by TUF" in progress.reason
    assert not booth.dir.staged.exists()


def test_a_trickled_wheel_cannot_hold_the_sync_past_its_deadline(world: World) -> None:
    world.release(world.house("2.1.0"))
    limits = FetchLimits(file_deadline_s=1.0, sync_deadline_s=5.0, read_timeout_s=5.0)
    with BadProxy(world.nginx.url, "pass", pause_s=0.05) as proxy:
        booth = world.booth(proxy.url)
        booth.fetcher.limits = limits
        booth.run()  # the clip set comes through the proxy untouched
        world.release(world.house("2.2.0"))
        proxy.mode = "trickle"
        posted = booth.run()
    assert not any(getattr(p, "state", "") in ("stale", "error") for p in posted[:1])
    progress = booth.last_update()
    assert progress.state == "failed" and "too slow" in progress.reason, progress
    assert json.loads(booth.dir.request.read_bytes()) == {"version": "2.1.0"}


def test_roots_the_booth_never_cached_are_fetched_into_the_staged_metadata(world: World) -> None:
    """A booth shipped with root version 2 stages roots 1 and 2 (the helper walks the chain)."""
    publisher = world.publisher
    root_key = publisher.keys.signer("root")
    assert publisher.repo.rotate_key("timestamp", [root_key], publisher.online.public("timestamp"))
    world.release(world.house("2.1.0"))
    state = world.base / "booth-v2"
    booth = ReleaseBooth(state, world.nginx.url, publisher.repo.metadata / "2.root.json", RUNNING)
    world.booths.append(booth)
    booth.run()
    assert booth.last_update().state == "staged", booth.last_update()
    assert not (state / "tuf" / "metadata" / "root_history" / "1.root.json").exists()
    for n in (1, 2):
        staged = booth.dir.staged / "metadata" / f"{n}.root.json"
        assert staged.read_bytes() == (publisher.repo.metadata / f"{n}.root.json").read_bytes()


def test_a_release_the_helper_has_taken_is_not_staged_again(world: World) -> None:
    world.release(world.house("2.1.0"))
    booth = world.booth()
    booth.run()
    booth.dir.request.unlink()  # the helper took it
    booth.status_file.write_text(json.dumps({"state": "applying", "version": "2.1.0", "at": 1}))
    staged_at = booth.dir.staged.stat().st_mtime_ns
    booth.run()
    assert booth.last_update().state == "staged"
    assert not booth.dir.request.exists() and booth.dir.staged.stat().st_mtime_ns == staged_at


def test_a_release_the_helper_postponed_is_requested_again_on_the_hook(world: World) -> None:
    """The helper said `staged` (the handset stayed lifted past update.switch_wait_s): the next
    sync, once on the hook, writes `request` again (the path unit's trigger), downloads nothing."""
    world.release(world.house("2.1.0"))
    booth = world.booth()
    booth.run()
    before = wheel_requests(world.nginx)
    inode = booth.dir.request.stat().st_ino
    booth.status_file.write_text(
        json.dumps({"state": "staged", "version": "2.1.0", "reason": "lifted", "at": 1})
    )
    booth.worker.on_hook.clear()  # lifted: the sync waits for the hook before it writes
    runner = threading.Thread(target=booth.run)
    runner.start()
    time.sleep(0.3)
    assert booth.dir.request.stat().st_ino == inode
    booth.worker.on_hook.set()
    runner.join(30)
    assert booth.last_update().state == "staged"
    assert booth.dir.request.stat().st_ino != inode  # rewritten: renamed over the old one
    assert json.loads(booth.dir.request.read_bytes()) == {"version": "2.1.0"}
    assert wheel_requests(world.nginx) == before
