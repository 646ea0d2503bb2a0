"""The update helper on real parts: a booth installed by scripts/install.sh with v1, real
wheels of this project signed in a real repository, the daemon under a real supervisor."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.release.manifest import release_target
from tests.audio_rig import PulseSink
from tests.integration.test_install import NEEDS_INSTALLER
from tests.release_apply import ApplyWheels, ReleaseRepo, stage
from tests.releases import SECOND
from tests.update_booth import UpdateBooth

pytestmark = [pytest.mark.pulse, *NEEDS_INSTALLER]


@pytest.fixture
def wheels(apply_wheels: ApplyWheels) -> ApplyWheels:
    return apply_wheels


@pytest.fixture
def repo(tmp_path: Path, wheels: ApplyWheels) -> ReleaseRepo:
    repo = ReleaseRepo(tmp_path / "admin")
    repo.add(wheels.v1)
    return repo


@pytest.fixture
def booth(
    tmp_path: Path, wheels: ApplyWheels, repo: ReleaseRepo, pulse: PulseSink
) -> Iterator[UpdateBooth]:
    booth = UpdateBooth(tmp_path / "booth", wheels.v1, repo.root_json, pulse.env)
    try:
        yield booth
    finally:
        booth.stop()


def test_v1_to_v2_waits_for_the_hook_then_a_broken_v3_is_rolled_back_for_good(
    booth: UpdateBooth, repo: ReleaseRepo, wheels: ApplyWheels
) -> None:
    assert booth.running() == "venvs/0.1.0"
    booth.start()
    assert booth.sup()["running"].endswith("venvs/0.1.0/bin/kiosk")
    repo.add(wheels.v2)
    stage(repo, booth.state, "0.2.0")
    # A wheel the release does not name, lying in the cache: never installed.
    broken = wheels.broken.read_bytes()
    extra = booth.state / "update" / "wheels" / ("0" * 64)
    extra.mkdir()
    (extra / wheels.broken.name).write_bytes(broken)

    booth.hook(False)  # the handset is lifted
    generation = booth.sup()["generation"]
    helper = subprocess.Popen(
        booth.helper_command(), stderr=subprocess.PIPE, text=True, cwd=booth.root
    )
    try:
        booth.wait(lambda: (booth.opt / "venvs" / "0.2.0").exists(), "venv 0.2.0", 300)
        time.sleep(1.5)  # the helper keeps re-checking the hook meanwhile
        assert booth.running() == "venvs/0.1.0" and booth.sup()["generation"] == generation
        assert booth.status()["state"] == "applying"
        booth.hook(True)
        _, err = helper.communicate(timeout=120)
    finally:
        if helper.poll() is None:
            helper.kill()
    assert helper.returncode == 0, err
    status = booth.status()
    assert status["state"] == "idle" and status["version"] == status["running"] == "0.2.0", status
    assert booth.running() == "venvs/0.2.0"
    sup = booth.sup()
    assert sup["ready"] and sup["running"].endswith("venvs/0.2.0/bin/kiosk"), sup
    assert SECOND in sup["ready_message"], sup
    assert booth.venvs() == ["0.1.0", "0.2.0"]

    # v3 never reaches READY: rolled back to v2, reported, and never retried.
    repo.add(wheels.broken)
    stage(repo, booth.state, "0.3.0")
    done = booth.helper()
    assert done.returncode == 1, done.stderr
    status = booth.status()
    assert status["state"] == "rolled_back" and status["version"] == "0.3.0", status
    assert status["running"] == "0.2.0" and status["bad"] == ["0.3.0"], status
    assert "did not report READY" in status["reason"], status
    assert booth.running() == "venvs/0.2.0"
    booth.wait(lambda: booth.sup().get("ready") is True, "READY of 0.2.0 again")
    assert SECOND in booth.sup()["ready_message"]
    assert "0.3.0" not in booth.venvs()
    generation = booth.sup()["generation"]
    again = booth.helper()
    assert again.returncode == 1 and booth.status() == status
    assert booth.sup()["generation"] == generation and "0.3.0" not in booth.venvs()


ATTACKS = ["altered wheel", "altered release", "wrong key", "older", "symlink", "symlinked wheel"]


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_kiosk_users_files_cannot_install_what_the_metadata_does_not_sign(
    tmp_path: Path, wheels: ApplyWheels, attack: str, pulse: PulseSink
) -> None:
    repo = ReleaseRepo(tmp_path / "admin")
    repo.add(wheels.v1)
    booth = UpdateBooth(tmp_path / "booth", wheels.v2, repo.root_json, pulse.env)
    repo.add(wheels.v2)
    staged = booth.state / "update" / "staged"
    if attack == "older":  # v1 is signed but older than the running v2, and not pinned
        stage(repo, booth.state, "0.1.0")
    elif attack == "wrong key":  # the same wheel in another admin's repository
        other = ReleaseRepo(tmp_path / "other")
        other.add(wheels.broken)
        stage(other, booth.state, "0.3.0")
    else:
        repo.add(wheels.broken)
        stage(repo, booth.state, "0.3.0")
        release = json.loads((staged / "release.json").read_text())
        sha, file = release["wheels"][0]["sha256"], release["wheels"][0]["file"]
        cached = booth.state / "update" / "wheels" / sha / file
        if attack == "altered wheel":
            cached.write_bytes(wheels.v2.read_bytes())
        elif attack == "altered release":  # point 0.3.0's release at another wheel
            data = wheels.v2.read_bytes()
            other_sha = hashlib.sha256(data).hexdigest()
            release["wheels"][0] = {"file": file, "sha256": other_sha, "length": len(data)}
            (staged / "release.json").write_text(json.dumps(release))
            (booth.state / "update" / "wheels" / other_sha).mkdir(exist_ok=True)
            (booth.state / "update" / "wheels" / other_sha / file).write_bytes(data)
        elif attack == "symlink":  # release.json swapped for a link to a file outside
            outside = tmp_path / "outside.json"
            outside.write_bytes(repo.target_bytes(release_target("0.3.0")))
            (staged / "release.json").unlink()
            (staged / "release.json").symlink_to(outside)
        elif attack == "symlinked wheel":
            outside = tmp_path / "outside"
            shutil.move(cached.parent, outside)
            cached.parent.symlink_to(outside)
    done = booth.helper()
    assert done.returncode == 1, done.stdout + done.stderr
    status = booth.status()
    assert status["state"] == "failed" and status["running"] == "0.2.0", status
    print(f"{attack}: {status['reason']}")
    assert booth.running() == "venvs/0.2.0" and booth.venvs() == ["0.2.0"]


def kill_points() -> int:
    return int(os.environ.get("KIOSK_KILL_POINTS", "50"))


def test_a_sigkill_anywhere_in_build_and_switch_leaves_a_complete_venv_and_the_next_run_concludes(
    booth: UpdateBooth, repo: ReleaseRepo, wheels: ApplyWheels, tmp_path: Path
) -> None:
    """SIGKILL at every checkpoint of a run, then at moments spread over a run (inside pip).

    The two versions take turns (the group pins the one to install, so going back is allowed);
    its venv is removed first so that every run builds. After each kill `current` must point at
    a complete venv; the next run must conclude with the booth READY on v1 or v2.
    """
    repo.add(wheels.v2)
    booth.start()
    trace = tmp_path / "trace"
    versions = {"0.1.0", "0.2.0"}

    def prepare() -> str:
        target = (versions - {booth.running().split("/")[1]}).pop()
        shutil.rmtree(booth.opt / "venvs" / target, ignore_errors=True)
        repo.pin("lobby", target)
        stage(repo, booth.state, target)
        return target

    def check_after_kill(point: str) -> None:
        current = booth.opt / "current"
        assert booth.running().split("/")[1] in versions, point
        assert (current / "bin" / "python").exists() and (current / "bin" / "kiosk").exists(), point
        assert not (current.resolve().name.startswith(".")), point

    def conclude(point: str) -> None:
        done = booth.helper()
        assert done.returncode == 0, f"{point}: {done.stderr}"
        status = booth.status()
        assert status["state"] == "idle" and status["running"] in versions, (point, status)
        assert not list((booth.opt / "venvs").glob(".building-*")), point
        booth.wait(lambda: booth.sup().get("ready") is True, f"READY after {point}")
        assert booth.sup()["running"] == str((booth.opt / "current" / "bin" / "kiosk").resolve())

    prepare()
    start = time.monotonic()
    first = booth.helper(KIOSK_UPDATE_TRACE=str(trace))
    took = time.monotonic() - start
    assert first.returncode == 0, first.stderr
    names = [line.split()[1] for line in trace.read_text().splitlines()]
    assert len(names) >= 12, names
    points = kill_points()
    killed = 0
    for n in range(1, len(names) + 1):
        prepare()
        done = booth.helper(KIOSK_UPDATE_KILL_AT=str(n))
        assert done.returncode == -9, (names[n - 1], done.stderr)
        check_after_kill(names[n - 1])
        conclude(names[n - 1])
        killed += 1
    timed = max(0, points - killed)
    for j in range(1, timed + 1):
        prepare()
        delay = took * j / (timed + 1)
        helper = subprocess.Popen(booth.helper_command(), stderr=subprocess.DEVNULL, cwd=booth.root)
        time.sleep(delay)
        helper.kill()
        helper.wait()
        check_after_kill(f"{delay:.2f} s")
        conclude(f"{delay:.2f} s")
        killed += 1
    assert killed >= points
