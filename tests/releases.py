"""Real booth releases for tests: the project's wheel at any version, and tiny dependency wheels.

`WheelFactory.project(version, change)` copies this checkout, sets `version` in pyproject.toml
(with `change`, a visible difference or a fault) and runs `pip wheel --no-deps` (cached per
version for the session: the `release_wheels` fixture in
tests/conftest.py). `tiny_wheel()` writes a small valid pure-Python wheel, a stand-in
dependency; `wheelhouse()` puts a project wheel and such dependencies in one folder.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from kiosk.events import UpdateProgress
from kiosk.sync.fetcher import Fetcher, FetchLimits
from kiosk.sync.store import SetStore
from kiosk.sync.updater import Source, Syncer
from kiosk.sync.worker import SyncWorker
from kiosk.update.downloader import ReleaseDownloader, UpdateSource
from kiosk.update.staging import UpdateDir

REPO = Path(__file__).resolve().parents[1]
# READY of a release built with change="second" carries this line: a test sees which code answers.
SECOND = "X_KIOSK_RELEASE=second"


def _change(src: Path, change: str) -> None:
    """The visible difference ("second") or the fault ("broken") of a test release."""
    if change == "second":
        notify = src / "kiosk" / "systemd.py"
        old = 'self._notify(f"READY=1\\nSTATUS={status}")'
        text = notify.read_text()
        assert old in text
        notify.write_text(text.replace(old, old[:-2] + f'\\n{SECOND}")'))
    elif change == "broken":
        app = src / "kiosk" / "app.py"
        app.write_text(app.read_text() + '\nraise RuntimeError("this release is broken")\n')
    elif change:
        raise ValueError(f"no test release change {change!r}")


class WheelFactory:
    """Builds and caches project wheels under `base`."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._built: dict[str, Path] = {}

    def project(self, version: str, change: str = "") -> Path:
        """kiosk-<version>-py3-none-any.whl, built from a copy of this checkout; `change`
        "second" makes READY carry SECOND, "broken" makes kiosk.app raise at import."""
        key = f"{version}{'-' + change if change else ''}"
        if key in self._built:
            return self._built[key]
        src = self.base / f"src-{key}"
        if src.exists():
            shutil.rmtree(src)
        files = subprocess.run(
            [
                "git",
                "ls-files",
                "-co",
                "--exclude-standard",
                "kiosk",
                "hub",
                "pyproject.toml",
                "README.md",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for name in files:
            if (REPO / name).is_file():
                (src / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / name, src / name)
        _change(src, change)
        pyproject = src / "pyproject.toml"
        text = re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', pyproject.read_text())
        pyproject.write_text(text)
        out = self.base / f"dist-{key}"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "-q",
                "--no-deps",
                "-w",
                str(out),
                str(src),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
        (wheel,) = out.glob(f"kiosk-{version}-*.whl")
        self._built[key] = wheel
        shutil.rmtree(src)
        return wheel

    def wheelhouse(self, version: str, deps: dict[str, str], name: str = "") -> Path:
        """A folder: the project wheel at `version` plus tiny wheels {distribution: version}."""
        folder = self.base / (name or f"house-{version}-{len(list(self.base.glob('house-*')))}")
        folder.mkdir(parents=True)
        shutil.copy2(self.project(version), folder)
        for dist, v in deps.items():
            tiny_wheel(folder, dist, v)
        return folder


def tiny_wheel(
    folder: Path, name: str, version: str, requires: tuple[str, ...] = (), size: int = 2048
) -> Path:
    """A valid pure-Python wheel `name-version-py3-none-any.whl` with `size` bytes of payload."""
    folder.mkdir(parents=True, exist_ok=True)
    module = name.replace("-", "_")
    info = f"{module}-{version}.dist-info"
    payload = hashlib.sha256(f"{name}{version}".encode()).hexdigest() * (size // 64 + 1)
    files = {
        f"{module}/__init__.py": f'"""{name} {version}"""\nDATA = "{payload[:size]}"\n'.encode(),
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            + "".join(f"Requires-Dist: {r}\n" for r in requires)
        ).encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for path, data in files.items():
            z.writestr(zipfile.ZipInfo(path, (2026, 1, 1, 0, 0, 0)), data)  # same bytes each time
    return wheel


class ReleaseBooth:
    """A booth's sync thread with its release downloader, on a repository URL.

    `run()` is one `SyncWorker.run_once()` (content sync, then the release step) and returns
    what it posted. The handset starts on the hook (`worker.on_hook`).
    """

    def __init__(
        self,
        state: Path,
        url: str,
        root: Path,
        running: str,
        set_name: str = "lobby",
        group: str = "",
        limits: FetchLimits | None = None,
        reserve_bytes: int = 0,
    ) -> None:
        self.state = state
        self.status_file = state / "helper-status.json"
        self.store = SetStore(state)
        self.fetcher = Fetcher(limits)
        self.syncer = Syncer(Source(url, root, set_name), self.store, self.fetcher, state)
        self.downloader = ReleaseDownloader(
            UpdateSource(url, group, self.status_file),
            self.fetcher,
            state,
            running=running,
            reserve_bytes=reserve_bytes,
        )
        self.posted: list[object] = []
        self.worker = SyncWorker(
            self.syncer, self.store, 3600.0, 0.0, self.posted.append, releases=self.downloader
        )
        self.worker.on_hook.set()
        self.dir = UpdateDir(state)

    def run(self) -> list[object]:
        start = len(self.posted)
        self.worker.run_once()
        return self.posted[start:]

    def last_update(self) -> UpdateProgress:
        return [p for p in self.posted if isinstance(p, UpdateProgress)][-1]

    def close(self) -> None:
        self.worker.stop()
