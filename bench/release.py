"""What a booth software release costs the booth: `python -m bench.release`.

A signed repository (the real admin code) behind Debian's nginx on loopback, and a booth's sync
thread (kiosk.update) following `stable`. The wheelhouse is the project's wheel (built from this
checkout at two versions) plus its dependencies for this machine from `pip download` (stand-ins
of the same total size when pip cannot reach an index).

Figures:

1. the first release: bytes the booth downloaded (every wheel, release.json, metadata), and the
   wheels' total for comparison;
2. the next release, in which only the project's wheel changed, the dependencies cached: bytes
   downloaded, and the project wheel's size;
3. time from `kiosk-admin release` (its start) to `staged` on a sync triggered right after it,
   for each of those two releases (the release's own part, then the booth's).

One human line per figure on stdout, then one JSON object with every figure as the last line.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from bench.common import BenchError, run_main
from kiosk.admin.release import release
from kiosk.admin.wheelhouse import FROM_DEBIAN, requirements
from tests.content import Publisher
from tests.nginx import Nginx
from tests.releases import ReleaseBooth, WheelFactory, tiny_wheel

STAND_IN_BYTES = 28 * 1024 * 1024  # what pip downloads here for the real dependencies


def dependencies(project: Path, out: Path) -> str:
    """The project's dependencies for this machine into `out`; how they were made."""
    reqs = requirements(project)
    pip = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:"]
    done = subprocess.run(
        [*pip, "-d", str(out), *reqs],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0:
        for wheel in out.glob("*.whl"):
            if canonicalize_name(wheel.name.split("-")[0]) in FROM_DEBIAN:
                wheel.unlink()  # numpy comes with soxr: the booth has Debian's
        return "pip download"
    print(f"pip download failed, using stand-ins: {done.stderr[-300:]}", file=sys.stderr)
    for i in range(10):
        tiny_wheel(out, f"stand-in-{i}", "1.0", size=STAND_IN_BYTES // 10)
    return "stand-ins"


def one(
    publisher: Publisher, booth: ReleaseBooth, house: Path, version: str
) -> tuple[int, float, float]:
    """(bytes downloaded, release s, sync-to-staged s) for releasing `house`."""
    before = booth.fetcher.bytes
    started = time.monotonic()
    release(house, "stable", publisher.destination(), publisher.keys.signer("targets"))
    released = time.monotonic()
    booth.run()
    staged = time.monotonic()
    progress = booth.last_update()
    if (progress.state, progress.version) != ("staged", version):
        raise BenchError(f"expected {version} staged, got {progress}")
    return booth.fetcher.bytes - before, released - started, staged - released


def run(tmp: Path) -> dict[str, Any]:
    factory = WheelFactory(tmp / "wheels")
    print("building two project wheels", file=sys.stderr)
    first_wheel, next_wheel = factory.project("2.1.0"), factory.project("2.2.0")
    deps = tmp / "deps"
    how = dependencies(first_wheel, deps)
    houses = []
    for wheel in (first_wheel, next_wheel):
        house = tmp / f"house-{wheel.name}"
        house.mkdir()
        for dep in [wheel, *deps.glob("*.whl")]:
            (house / dep.name).write_bytes(dep.read_bytes())
        houses.append(house)
    total = sum(p.stat().st_size for p in houses[0].glob("*.whl"))
    publisher = Publisher(tmp / "admin")
    publisher.publish_clips("lobby", {"a.wav": 0.5})
    with Nginx(publisher.repo.folder, tmp / "nginx") as nginx:
        booth = ReleaseBooth(tmp / "booth", nginx.url, publisher.root_json, "2.0.0")
        try:
            booth.run()  # the clip set first: what follows is the release's alone
            full, rel1, sync1 = one(publisher, booth, houses[0], "2.1.0")
            delta, rel2, sync2 = one(publisher, booth, houses[1], "2.2.0")
        finally:
            booth.close()
    project = next_wheel.stat().st_size
    wheels = len(list(houses[0].glob("*.whl")))
    print(f"first release: {full:,} bytes downloaded; its {wheels} wheels are {total:,} ({how})")
    print(
        f"next release, only the project wheel changed: {delta:,} bytes downloaded; "
        f"the project wheel is {project:,}"
    )
    print(
        f"release -> staged: first {rel1 + sync1:.2f} s (release {rel1:.2f} s, sync "
        f"{sync1:.2f} s); next {rel2 + sync2:.2f} s (release {rel2:.2f} s, sync {sync2:.2f} s)"
    )
    return {
        "dependencies": how,
        "wheels": wheels,
        "wheels_bytes": total,
        "first_download_bytes": full,
        "project_wheel_bytes": project,
        "next_download_bytes": delta,
        "first_release_s": round(rel1, 3),
        "first_sync_to_staged_s": round(sync1, 3),
        "next_release_s": round(rel2, 3),
        "next_sync_to_staged_s": round(sync2, 3),
    }


if __name__ == "__main__":
    sys.exit(run_main("bench.release", run))
