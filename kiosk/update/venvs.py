"""The install layout: /opt/kiosk/venvs/<version>, and /opt/kiosk/current pointing at one.

    /opt/kiosk/venvs/<version>/     a complete venv (only complete venvs get this name)
    /opt/kiosk/venvs/.building-*    a venv under construction or removal (removed by `clean`)
    /opt/kiosk/current -> venvs/<version>   flipped atomically: a new symlink renamed over it

A venv is built in a temp folder with `pip install --no-index --find-links <verified wheels>`
(offline), its scripts' `#!` lines are rewritten to the final path, everything is synced to disk,
and the folder is renamed into place. So a crash at any point leaves `current` on a complete venv.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kiosk.durable import fsync_dir
from kiosk.errors import KioskError

Checkpoint = Callable[[str], None]
BASE_PTH = "kiosk-venv-from.pth"  # scripts/install.sh --venv-from: the shared packages
PIP_GROUP = ".pip-group"  # "<boot id> <process group>" of a pip run that may outlive us


class BuildError(KioskError, OSError):
    """pip could not build the new venv; `output` is what it said."""


class Layout:
    """/opt/kiosk (or the same under a test root)."""

    def __init__(self, opt: Path) -> None:
        self.opt = opt
        self.venvs = opt / "venvs"
        self.current = opt / "current"

    def running(self) -> str | None:
        """The version `current` points at, or None."""
        try:
            target = os.readlink(self.current)
        except OSError:
            return None
        return Path(target).name

    def venv(self, version: str) -> Path:
        return self.venvs / version

    def has(self, version: str) -> bool:
        return (self.venv(version) / "bin" / "python").exists()

    def clean(self) -> list[str]:
        """Remove half-built venvs and a stray new symlink; the names removed."""
        removed = []
        if self.venvs.is_dir():
            for path in self.venvs.glob(".building-*"):
                _stop_group(path / PIP_GROUP)
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        with contextlib.suppress(FileNotFoundError):
            (self.opt / ".current.new").unlink()
            removed.append(".current.new")
        return removed

    def flip(self, version: str) -> None:
        """Point `current` at venvs/<version> atomically."""
        new = self.opt / ".current.new"
        with contextlib.suppress(FileNotFoundError):
            new.unlink()
        os.symlink(f"venvs/{version}", new)
        os.replace(new, self.current)
        fsync_dir(self.opt)

    def prune(self, keep: set[str]) -> list[str]:
        """Remove every complete venv not in `keep` (and not current); the versions removed."""
        running = self.running()
        removed = []
        for path in sorted(self.venvs.iterdir()) if self.venvs.is_dir() else []:
            if path.name.startswith(".") or path.name in keep or path.name == running:
                continue
            doomed = self.venvs / f".building-removed-{path.name}"  # clean() ends a cut-off rmtree
            os.replace(path, doomed)
            shutil.rmtree(doomed, ignore_errors=True)
            removed.append(path.name)
        return removed

    def build(self, version: str, wheels: Path, requirement: str, checkpoint: Checkpoint) -> None:
        """Build venvs/<version> from the wheels in `wheels` only (no network)."""
        self.venvs.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".building-{version}-", dir=self.venvs))
        os.chmod(tmp, 0o755)
        checkpoint("venv-folder")
        base = Path(getattr(sys, "_base_executable", sys.executable))
        system_site = _system_site(Path(sys.prefix) / "pyvenv.cfg")
        args = [str(base), "-m", "venv", "--without-pip", str(tmp)]
        _run([*args, "--system-site-packages"] if system_site else args, tmp / PIP_GROUP)
        checkpoint("venv-created")
        own_site = Path(sysconfig.get_path("purelib"))
        shared = own_site / BASE_PTH
        if shared.exists():
            site = _purelib(tmp)
            shutil.copy2(shared, site / BASE_PTH)
        checkpoint("venv-base")
        pip = [sys.executable, "-m", "pip", "--python", str(tmp / "bin" / "python"), "install"]
        pip += ["--no-index", "--no-cache-dir", "--disable-pip-version-check", "-q"]
        pip += ["--find-links", str(wheels)]
        # The release itself, even if a shared site (BASE_PTH) already has some version of it;
        # then whatever it depends on that is not here yet, from the verified wheels only.
        _run([*pip, "--no-deps", "--force-reinstall", requirement], tmp / PIP_GROUP)
        checkpoint("venv-release")
        _run([*pip, requirement], tmp / PIP_GROUP)
        checkpoint("venv-installed")
        (tmp / PIP_GROUP).unlink()
        name, _, version_wanted = requirement.partition("==")
        probe = f"import importlib.metadata as m; print(m.version({name!r}))"
        got = subprocess.run(
            [str(tmp / "bin" / "python"), "-I", "-c", probe],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp,
        ).stdout.strip()
        if got != version_wanted or not (tmp / "bin" / name).exists():
            raise BuildError(f"the new venv has {name} {got or 'missing'}, not {version_wanted}")
        _relocate(tmp, self.venv(version))
        checkpoint("venv-relocated")
        os.sync()
        checkpoint("venv-synced")
        shutil.rmtree(self.venv(version), ignore_errors=True)  # a leftover of a pruned run
        os.replace(tmp, self.venv(version))
        fsync_dir(self.venvs)
        checkpoint("venv-renamed")


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def _run(args: list[str], group_file: Path | None = None) -> None:
    """Run a build step; with `group_file`, in its own process group, recorded there so that
    `clean` can stop what is left of it (pip starts pip) if we are killed meanwhile."""
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=group_file is not None,
    )
    if group_file is not None:
        group_file.write_text(f"{_boot_id()} {proc.pid}\n")
    try:
        out, _ = proc.communicate(timeout=1800)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(args[:4])} ...: {out.strip()[-2000:]}")


def _stop_group(group_file: Path) -> None:
    """SIGKILL the process group a killed run left building (this boot only), and wait."""
    try:
        boot, pgid = group_file.read_text().split()
        group = int(pgid)
    except (OSError, ValueError):
        return
    if boot != _boot_id() or group <= 1:
        return
    for _ in range(200):
        try:
            os.killpg(group, signal.SIGKILL)
        except OSError:
            return
        time.sleep(0.01)


def _system_site(cfg: Path) -> bool:
    try:
        text = cfg.read_text()
    except OSError:
        return False
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "include-system-site-packages":
            return value.strip().lower() == "true"
    return False


def _purelib(venv: Path) -> Path:
    (site,) = (venv / "lib").glob("python3*/site-packages")
    return site


def _relocate(built: Path, final: Path) -> None:
    """Rewrite what pip and venv wrote with the temp path (`#!` lines, pyvenv.cfg)."""
    old, new = str(built).encode(), str(final).encode()
    for path in [*(built / "bin").iterdir(), built / "pyvenv.cfg"]:
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if old in data[:4096]:
            path.write_bytes(data.replace(old, new))
