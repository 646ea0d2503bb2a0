"""What ships: the wheel built from this tree, installed alone in a fresh venv, run end to end.

Every other test imports the checkout; these run only the installed `kiosk`, `kiosk-admin` and
`kiosk-hub` scripts from a folder outside it, so a runtime file left out of the wheel fails
here. The installer test builds `/opt/kiosk/venvs/0.1.0` and `current` (under a temporary
root) from that venv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from kiosk.audio.decode import decode
from tests.audio_rig import PulseSink, best_lag
from tests.booth_runner import HeadlessBooth
from tests.hubproc import HubProcess
from tests.integration.test_daemon_systemd import NotifySocket, stop_daemon
from tests.integration.test_install import run_install, target

REPO = Path(__file__).resolve().parents[2]
__all__ = ["target"]  # the installer test's empty system root, a fixture
RUNTIME_FILES = [
    "kiosk/data/prompts/please-hang-up.ogg",
    "kiosk/data/prompts/self-test.ogg",
    "kiosk/data/prompts/guide.ogg",
    "kiosk/data/prompts/rating.ogg",
    "kiosk/data/sample-set/clipset.yaml",
    "kiosk/data/sample-set/maria.ogg",
    "kiosk/data/state-schemas.json",
    "hub/templates/base.html",
]


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    outside: Path  # a folder outside the checkout to run from

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def env(self) -> dict[str, str]:
        """The environment without anything that could reach the checkout."""
        keep = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        return {**keep, "PYTHONSAFEPATH": "1"}


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """`pip wheel` of this tree, installed with its hub and admin extras into a new venv."""
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("kiosk-*.whl")
    venv = base / "venv"
    python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
    done = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", f"{wheel}[hub,admin]"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    outside = base / "elsewhere"
    outside.mkdir()
    yield Installed(wheel, venv, outside)
    shutil.rmtree(base, ignore_errors=True)


def test_the_wheel_holds_every_runtime_file(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    missing = [f for f in RUNTIME_FILES if f not in names]
    assert not missing, f"not in {installed.wheel.name}: {missing}"


def test_the_installed_package_is_not_the_checkout(installed: Installed) -> None:
    where = subprocess.run(
        [installed.bin("python"), "-c", "import kiosk, hub; print(kiosk.__file__, hub.__file__)"],
        capture_output=True,
        text=True,
        cwd=installed.outside,
        env=installed.env(),
        check=True,
    ).stdout.split()
    assert all(path.startswith(str(installed.venv)) for path in where), where


@pytest.mark.pulse
def test_the_installed_simulator_plays_a_lift_of_the_bundled_set(
    installed: Installed, pulse: PulseSink
) -> None:
    state = installed.outside / "sim-state"
    booth = HeadlessBooth(
        None,
        {**installed.env(), **pulse.env},
        ("--state-dir", str(state)),
        kiosk=(installed.bin("kiosk"),),
        cwd=installed.outside,
    )
    with pulse.record() as rec:
        try:
            booth.send("lift")
            start = booth.wait_for("clip_start")
            booth.send("sleep 1.5", "hangup")
            booth.wait_for("hangup")
            rec.sync(0.2)
        finally:
            assert booth.quit() == 0, booth.stderr
    assert start["set"] == "sample", start
    clip = decode(REPO / "kiosk" / "data" / "sample-set" / start["clip"], 48000, 60)
    lag, score = best_lag(rec.samples(), clip[:24000])  # the whole recording: reads may stall
    offset = rec.time_of_sample(lag) - start["t"]
    assert score > 0.9 and offset >= -0.05, (
        f"{start['clip']} not heard (score {score:.2f}, {offset:+.3f} s from clip_start)\n"
        f"{booth.stderr[-2000:]}"
    )


def test_the_installed_admin_publishes_the_bundled_set_to_the_installed_hub(
    installed: Installed,
) -> None:
    data, keys = installed.outside / "hub-data", installed.outside / "admin-keys"
    admin = [installed.bin("kiosk-admin")]
    init = [*admin, "--repo", str(data / "repo"), "--keys", str(keys)]
    subprocess.run(
        [*init, "--online-keys", str(data / "online-keys"), "init", "--no-passphrase"],
        cwd=installed.outside,
        env=installed.env(),
        check=True,
        capture_output=True,
    )
    sample = subprocess.run(
        [installed.bin("python"), "-c", "from kiosk.assets import sample_set; print(sample_set())"],
        cwd=installed.outside,
        env=installed.env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert sample.startswith(str(installed.venv))
    with HubProcess(data, python=installed.bin("python"), env=installed.env()) as hub:
        to_hub = [*admin, "--hub", hub.url, "--keys", str(keys)]
        env = {**installed.env(), "KIOSK_HUB_TOKEN": hub.token}
        published = subprocess.run(
            [*to_hub, "publish", sample, "--set", "sample"],
            cwd=installed.outside,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert published.returncode == 0, published.stdout + published.stderr
        listed = requests.get(f"{hub.url}/repo/metadata/timestamp.json", timeout=5)
        assert listed.status_code == 200
        sets = subprocess.run(
            [*to_hub, "sets"],
            cwd=installed.outside,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    assert sets.returncode == 0 and "sample" in sets.stdout, sets.stdout + sets.stderr


@pytest.mark.pulse
@pytest.mark.skipif(os.geteuid() != 0, reason="the installer runs as root")
def test_the_installer_builds_a_booth_from_the_wheel_that_starts(
    installed: Installed, target: Path, pulse: PulseSink, tmp_path: Path
) -> None:
    """install.sh's venv over the wheel's venv: `kiosk selftest` plays, `kiosk run` is READY."""
    result = run_install(
        "--root-dir",
        str(target),
        "--venv-from",
        str(installed.venv),
        "--no-enroll",
        "--no-selftest",
        "--hub",
        "http://127.0.0.1:9",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    kiosk = str(target / "opt" / "kiosk" / "current" / "bin" / "kiosk")
    # The installed config, its paths under the temporary root as the installer sees them.
    text = (target / "etc" / "kiosk" / "kiosk.yaml").read_text()
    config = tmp_path / "kiosk.yaml"
    config.write_text(text.replace("/var/lib/kiosk", str(target / "var" / "lib" / "kiosk")))
    env = {**installed.env(), **pulse.env, "GPIOZERO_PIN_FACTORY": "mock"}
    prompt = decode(REPO / "kiosk" / "data" / "prompts" / "self-test.ogg", 48000, 60)
    with pulse.record() as rec:
        test = subprocess.run(
            [kiosk, "selftest", "--unattended", "--json", "--config", str(config)],
            cwd=installed.outside,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        rec.sync(0.2)
    items = {item["name"]: item for item in json.loads(test.stdout)}
    assert items["audio_playback"]["result"] == "PASS", test.stdout + test.stderr
    for name in ("disk", "state_dir"):
        assert items[name]["result"] == "PASS", items[name]
    _, score = best_lag(rec.samples(), prompt[: 48000 * 2])
    assert score > 0.9, f"the self-test prompt was not heard (score {score:.2f})"

    notify = NotifySocket(tmp_path / "notify")
    daemon = subprocess.Popen(
        [kiosk, "run", "--config", str(config)],
        cwd=installed.outside,
        env={**env, "NOTIFY_SOCKET": notify.path},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert notify.wait_for("READY=1").startswith("READY=1")
    finally:
        code, err = stop_daemon(daemon)
        notify.close()
    assert code == 0, err
