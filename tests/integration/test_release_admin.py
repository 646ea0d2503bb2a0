"""`kiosk-admin release`, `assign-release` and `releases` for real: through the hub (uvicorn on
127.0.0.1) and into a repository folder, `--platform` with pip offline, and a booth staging
what the hub serves."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import requests
from packaging.requirements import Requirement

from kiosk.admin.cli import main as admin
from kiosk.admin.wheelhouse import requirements
from kiosk.release.manifest import parse_channels
from tests.content import Publisher
from tests.hubproc import HubProcess
from tests.integration.test_audit import audit
from tests.releases import ReleaseBooth, WheelFactory, tiny_wheel

TOKEN = "test-admin-token"


def via_hub(tmp_path: Path, hub: HubProcess, *args: str) -> int:
    return admin(["--hub", hub.url, "--token", TOKEN, "--keys", str(tmp_path / "keys"), *args])


def test_release_through_the_hub_then_a_booth_stages_it(
    tmp_path: Path,
    hub: HubProcess,
    release_wheels: WheelFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    house = release_wheels.wheelhouse("2.1.0", {}, name="hub-house")
    big = tiny_wheel(house, "big-dep", "1.0", size=3_000_000)  # wheels are a few MB
    assert via_hub(tmp_path, hub, "release", str(house), "--channel", "stable") == 0
    assert "released 2.1.0 on stable: 2 wheels, 2 uploaded" in capsys.readouterr().out
    # Again on canary: the wheels are in the repository already, nothing is uploaded.
    assert via_hub(tmp_path, hub, "release", str(house), "--channel", "canary") == 0
    assert "2 wheels, 0 uploaded" in capsys.readouterr().out
    assert via_hub(tmp_path, hub, "assign-release", "lobby-booths", "9.9") == 2
    assert "no release '9.9'" in capsys.readouterr().err
    assert via_hub(tmp_path, hub, "assign-release", "lobby-booths", "canary") == 0
    assert via_hub(tmp_path, hub, "releases") == 0
    out = capsys.readouterr().out
    assert "stable\t2.1.0" in out and "lobby-booths\tchannel canary" in out
    assert "2.1.0\t2 wheels" in out
    logged = [(e["action"], e["subject"], e["detail"]) for e in audit(hub, TOKEN)]
    assert ("release", "channel stable", "carries 2.1.0") in logged
    assert ("release", "channel canary", "carries 2.1.0") in logged
    assert ("assign-release", "group lobby-booths", "follows canary") in logged
    # The booth reads the hub's repository (no clip set there: the content sync fails alone).
    root = hub.data / "repo" / "metadata" / "1.root.json"
    booth = ReleaseBooth(tmp_path / "booth", f"{hub.url}/repo", root, "2.0.0", group="lobby-booths")
    try:
        booth.run()
        assert booth.last_update().state == "staged", booth.last_update()
    finally:
        booth.close()
    sha = hashlib.sha256(big.read_bytes()).hexdigest()
    assert (booth.dir.wheels / sha / big.name).read_bytes() == big.read_bytes()


def test_the_hub_takes_only_wheels_at_their_own_hash(tmp_path: Path, hub: HubProcess) -> None:
    data = b"not really a wheel"
    sha = hashlib.sha256(data).hexdigest()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{hub.url}/api/v1/targets"
    wrong = requests.put(
        f"{url}/wheels/{'a' * 64}/x-1.0-py3-none-any.whl",
        params={"sha256": sha},
        data=data,
        headers=auth,
        timeout=10,
    )
    assert wrong.status_code == 400 and "sha256 of the body" in wrong.text
    for bad in (f"wheels/{sha}/x.tar.gz", f"wheels/{sha}/../x.whl", "releases/../x/release.json"):
        resp = requests.put(
            f"{url}/{bad}", params={"sha256": sha}, data=data, headers=auth, timeout=10
        )
        assert resp.status_code in (400, 404), (bad, resp.status_code)
    good = requests.put(
        f"{url}/wheels/{sha}/x-1.0-py3-none-any.whl",
        params={"sha256": sha},
        data=data,
        headers=auth,
        timeout=10,
    )
    assert good.status_code == 200, good.text


def test_a_channel_never_moves_back(
    tmp_path: Path, release_wheels: WheelFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    publisher = Publisher(tmp_path / "admin")
    repo = ["--repo", str(publisher.repo.folder), "--keys", str(publisher.keys.folder)]
    repo += ["--online-keys", str(publisher.online.folder)]
    new = release_wheels.project("2.1.0")
    old = release_wheels.project("1.9.0")
    assert admin([*repo, "release", str(new), "--channel", "stable"]) == 0
    assert admin([*repo, "release", str(old), "--channel", "stable"]) == 2
    err = capsys.readouterr().err
    assert "stable carries 2.1.0, newer than 1.9.0" in err and "assign-release" in err
    assert admin([*repo, "release", str(old), "--channel", "canary"]) == 0
    assert admin([*repo, "assign-release", "museum", "1.9.0"]) == 0
    info = publisher.repo.targets().signed.targets["releases/channels.json"]
    channels = parse_channels(publisher.repo.target_path(info).read_bytes())
    assert channels.channels == {"stable": "2.1.0", "canary": "1.9.0"}
    assert channels.wanted("museum") == ("1.9.0", True)
    assert channels.wanted("other") == ("2.1.0", False)


def test_platform_builds_the_wheelhouse_with_pip_offline(
    tmp_path: Path, release_wheels: WheelFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """pip download --platform from a local --find-links wheelhouse (--no-index): stand-ins
    for every dependency, numpy among them (soxr needs it) to be left to Debian."""
    project = release_wheels.project("2.1.0")
    links = tmp_path / "links"
    for line in requirements(project):
        req = Requirement(line)
        version = next(v for v in ("99.0", "7.9", "7.0") if req.specifier.contains(v))
        needs = ("numpy>=1",) if req.name == "soxr" else ()
        tiny_wheel(links, req.name, version, requires=needs)
    tiny_wheel(links, "numpy", "99.0")
    publisher = Publisher(tmp_path / "admin")
    repo = ["--repo", str(publisher.repo.folder), "--keys", str(publisher.keys.folder)]
    repo += ["--online-keys", str(publisher.online.folder)]
    house = tmp_path / "house"
    args = ["release", str(project), "--channel", "stable", "--platform", "--no-index"]
    args += ["--find-links", str(links), "--wheelhouse", str(house)]
    assert admin([*repo, *args]) == 0, capsys.readouterr().err
    names = sorted(p.name.split("-")[0] for p in house.glob("*.whl"))
    assert "numpy" not in names and "gpiozero" not in names and "systemd_python" not in names
    assert {"kiosk", "tuf", "pydantic", "requests", "soxr"} <= set(names)
    info = publisher.repo.targets().signed.targets["releases/2.1.0/release.json"]
    manifest = json.loads(publisher.repo.target_path(info).read_bytes())
    assert sorted(w["file"].split("-")[0] for w in manifest["wheels"]) == names
