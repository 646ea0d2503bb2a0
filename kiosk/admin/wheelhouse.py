"""`kiosk-admin release --platform`: the wheelhouse a Pi needs, built with `pip download`.

The project's wheel plus its dependencies for Python 3.11 on each platform, binary wheels
only, minus what Debian provides on the booth (scripts/install.sh's PACKAGES).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from kiosk.errors import ConfigError

PYTHON = "3.11"
# pip --platform tags for each Pi; piwheels serves linux_armv7l, PyPI manylinux.
PLATFORMS = {
    "aarch64": ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "linux_aarch64"),
    "armv7": ("manylinux2014_armv7l", "manylinux_2_31_armv7l", "linux_armv7l"),
}
# python3-numpy, python3-gpiozero, python3-systemd (scripts/install.sh PACKAGES)
FROM_DEBIAN = frozenset({"numpy", "gpiozero", "systemd-python"})


def requirements(project_wheel: Path) -> list[str]:
    """The project wheel's own dependencies (no extras), minus what Debian provides."""
    with zipfile.ZipFile(project_wheel) as z:
        meta = next((n for n in z.namelist() if n.endswith(".dist-info/METADATA")), None)
        if meta is None:
            raise ConfigError([f"{project_wheel}: no .dist-info/METADATA"])
        text = z.read(meta).decode()
    out = []
    for line in text.splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        try:
            req = Requirement(line.partition(":")[2].strip())
        except InvalidRequirement as e:
            raise ConfigError([f"{project_wheel}: {meta}: {e}"]) from e
        if req.marker is not None and "extra" in str(req.marker):
            continue
        if canonicalize_name(req.name) in FROM_DEBIAN:
            continue
        out.append(str(req))  # pip evaluates any marker for --python-version
    return out


def build(
    project_wheel: Path,
    out: Path,
    platforms: list[str],
    pip_options: list[str] | None = None,
) -> list[Path]:
    """Download the wheelhouse into `out` (the project wheel copied in); its wheels.

    `pip_options` go to pip as they are (`--no-index`, `--find-links DIR`, `--index-url`).
    """
    unknown = [p for p in platforms if p not in PLATFORMS]
    if unknown:
        raise ConfigError([f"--platform: {unknown[0]!r}: expected one of {sorted(PLATFORMS)}"])
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(project_wheel, out / project_wheel.name)
    reqs = requirements(project_wheel)
    for platform in platforms:
        tags = [a for tag in PLATFORMS[platform] for a in ("--platform", tag)]
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            "--python-version",
            PYTHON,
            "--implementation",
            "cp",
            *tags,
            "--dest",
            str(out),
            *(pip_options or []),
            *reqs,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ConfigError([f"pip download for {platform} failed:", done.stderr.strip()])
    wheels = []
    for wheel in sorted(out.glob("*.whl")):
        if canonicalize_name(str(parse_wheel_filename(wheel.name)[0])) in FROM_DEBIAN:
            wheel.unlink()  # pulled in by a dependency (soxr needs numpy): Debian has it
        else:
            wheels.append(wheel)
    return wheels
