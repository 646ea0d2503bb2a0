"""kill -9 at any point of a sync: the booth keeps the old set or has the new one, never half.

The booth has set "lobby" version 2 active (version 1 as `previous`), both synced by the real
`kiosk sync` command. Version 3 changes a clip and adds five: downloads, staging, activation,
and a collect that deletes version 1. Then, again and again, a `kiosk sync` starts and gets
SIGKILL: mostly after a delay drawn uniformly from [0, 1.2 x the time a whole sync takes],
sometimes a random few milliseconds after it starts staging or has staged (those steps are
short). After every kill:

- `current` is version 2 or version 3, complete and verified: its clipset.yaml is the one the
  signed manifest makes, every clip it lists is there with the signed sha256, nothing else;
- `previous`, and every folder under a final set name, is complete and verified too;
- every file in the clip cache has the sha256 its name says.

Kills pile up (a run restarts on what the last kill left: part files, staging folders, temp
links) until version 3 is staged or active. Then a sync runs to its end: it must exit 0 and
leave version 3 active, version 2 previous and nothing else, and the booth goes back to its
version-2 state for the next round. After the loop one more `kiosk sync` runs to completion.

A small proxy in front of nginx paces clip bytes (Range passed through), so downloads take a
measurable time and kills land mid-file. Each sync runs in tests/sync_child.py, which does
Python's imports before the clock starts. KIOSK_KILL_SEED=<n> replays a run's choices.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import pytest

from kiosk.admin.publishing import current_manifest
from kiosk.clips.clipset import load_clipset
from kiosk.content.manifest import SetManifest
from kiosk.sync.store import SetStore
from tests.bad_proxy import QuietHandler
from tests.content import Publisher
from tests.nginx import Nginx
from tests.sync_child import GO, READY

ROOT = Path(__file__).resolve().parents[2]
KILLS = 100  # runs killed before they finished
MAX_RUNS = 200  # runs that may finish before their kill come on top
PACE_BYTES_PER_S = 1_200_000  # clip bytes through the proxy
PACE_CHUNK = 4096
LATE_S = 0.004  # after a milestone, kill within this


@dataclass(frozen=True)
class Version:
    folder: str  # lobby-v<version>
    manifest: SetManifest

    @property
    def files(self) -> dict[str, str]:
        return {c.file: c.sha256 for c in self.manifest.clips}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, proxy: PacedProxy) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.proxy = proxy

    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a killed sync resets them
            super().handle_error(request, client_address)


class _Handler(QuietHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.proxy.forward(self)


class PacedProxy:
    """Passes every GET to nginx (Range included); clip bodies go out in paced small writes."""

    def __init__(self, upstream: str, bytes_per_s: float) -> None:
        self.upstream = urlsplit(upstream)
        self.bytes_per_s = bytes_per_s
        self.seen: list[tuple[str, str]] = []  # (path, Range header)
        self.server = _Server(self)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def forward(self, req: BaseHTTPRequestHandler) -> None:
        asked = req.headers.get("Range", "")
        self.seen.append((req.path, asked))
        conn = http.client.HTTPConnection(
            self.upstream.hostname or "127.0.0.1", self.upstream.port, timeout=10
        )
        conn.request("GET", req.path, headers={"Range": asked} if asked else {})
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        paced = "/targets/clips/" in req.path
        try:
            req.send_response(resp.status)
            for name in ("Content-Type", "Content-Range", "Accept-Ranges"):
                if resp.getheader(name):
                    req.send_header(name, resp.getheader(name) or "")
            req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            step = PACE_CHUNK if paced else max(1, len(body))
            for i in range(0, len(body), step):
                req.wfile.write(body[i : i + step])
                req.wfile.flush()
                if paced:
                    time.sleep(step / self.bytes_per_s)
        except OSError:
            req.close_connection = True  # the sync was killed: that is the point

    def __enter__(self) -> PacedProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


class Children:
    """`python -m tests.sync_child CONFIG` processes, each started one ahead of its use."""

    def __init__(self, config: Path, log: IO[bytes]) -> None:
        self.config = config
        self.log = log
        self._spare: subprocess.Popen[str] | None = None
        self._all: list[subprocess.Popen[str]] = []

    def _spawn(self) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.sync_child", str(self.config)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self._all.append(proc)
        return proc

    def start(self) -> subprocess.Popen[str]:
        """A child that has just been told to go; the next one starts importing."""
        proc, self._spare = self._spare or self._spawn(), self._spawn()
        assert proc.stdin is not None and proc.stdout is not None
        assert proc.stdout.readline().strip() == READY
        proc.stdin.write(GO + "\n")
        proc.stdin.flush()
        return proc

    @staticmethod
    def finish(proc: subprocess.Popen[str], timeout: float = 60) -> int:
        proc.communicate(timeout=timeout)  # reaps it and closes its pipes
        return proc.returncode

    def close(self) -> None:
        for proc in self._all:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_state(src: Path, dst: Path) -> None:
    """Copy a booth state folder keeping its symlinks and its hard links (cache <-> sets)."""
    if dst.exists():
        shutil.rmtree(dst)
    first: dict[tuple[int, int], str] = {}

    def copy(s: str, d: str) -> str:
        st = os.stat(s)
        key = (st.st_dev, st.st_ino)
        if key in first:
            os.link(first[key], d)
        else:
            shutil.copy2(s, d)
            first[key] = d
        return d

    shutil.copytree(src, dst, symlinks=True, copy_function=copy)


class Booth:
    """The state folder of one booth and the checks every kill must pass."""

    def __init__(self, state: Path, versions: dict[str, Version]) -> None:
        self.state = state
        self.store = SetStore(state)
        self.versions = versions

    def check_folder(self, folder: Path) -> Version:
        """`folder` is a known set version, complete and verified; returns that version."""
        version = self.versions.get(folder.name)
        assert version is not None, f"unknown set folder {folder.name}"
        files = sorted(p.name for p in folder.iterdir())
        assert files == sorted([*version.files, "clipset.yaml"]), f"{folder.name}: {files}"
        assert (folder / "clipset.yaml").read_text() == version.manifest.clipset_yaml()
        clipset = load_clipset(folder)
        assert clipset.name == "lobby"
        assert [c.file for c in clipset.clips] == list(version.files)
        for file, want in version.files.items():
            assert sha256(folder / file) == want, f"{folder.name}/{file}: wrong bytes"
        return version

    def check(self, old: str, new: str) -> str:
        """The invariants after any kill; returns the folder name of the active set."""
        active = self.store.active()
        assert active is not None, f"no active set: current -> {self.link('current')}"
        assert active.name in (old, new), f"active set is {active.name}"
        self.check_folder(active)
        assert load_clipset(self.store.sets / "current").name == "lobby"
        previous = self.store.previous()
        if previous is not None:
            self.check_folder(previous)
        for entry in self.store.sets.iterdir():
            if not entry.name.startswith(".") and not entry.is_symlink():
                self.check_folder(entry)  # a final name is only ever a complete folder
        for clip in self.store.clips.iterdir():
            assert sha256(clip) == clip.name.split(".")[0], f"cache/clips/{clip.name} corrupt"
        return active.name

    def check_done(self, old: str, new: str) -> None:
        """After a sync that ran to its end: the new set active, the old one previous, tidy."""
        assert self.check(old, new) == new
        previous = self.store.previous()
        assert previous is not None and previous.name == old
        dirs = sorted(p.name for p in self.store.sets.iterdir() if not p.is_symlink())
        assert dirs == sorted([old, new]), dirs
        want = {f"{c.sha256}.{c.ext}" for v in (old, new) for c in self.versions[v].manifest.clips}
        assert {p.name for p in self.store.clips.iterdir()} == want
        assert list(self.store.partial.iterdir()) == []
        for folder in (self.store.sets / old, self.store.sets / new):
            for c in self.versions[folder.name].manifest.clips:
                cached = self.store.clip_path(c.sha256, c.ext)
                assert (folder / c.file).stat().st_ino == cached.stat().st_ino

    def link(self, name: str) -> str | None:
        try:
            return os.readlink(self.store.sets / name)
        except OSError:
            return None

    def staging_beyond(self, known: frozenset[str]) -> Callable[[], bool]:
        """True once a staging folder other than `known` ones exists."""
        return lambda: any(p.name not in known for p in self.store.sets.glob(".staging-*"))

    def snapshot(self) -> Snapshot:
        sets = self.store.sets
        entries = list(sets.iterdir())
        return Snapshot(
            cache=frozenset(p.name for p in self.store.clips.iterdir()),
            parts={p.name: p.stat().st_size for p in self.store.partial.iterdir()},
            staging=frozenset(p.name for p in entries if p.name.startswith(".staging-")),
            temp_links=frozenset(p.name for p in entries if p.is_symlink() and "." in p.name),
            dirs=frozenset(p.name for p in entries if p.is_dir() and not p.is_symlink()),
            current=self.link("current"),
            previous=self.link("previous"),
        )


@dataclass(frozen=True)
class Snapshot:
    """What a booth's state folder holds, to tell how far a killed sync got."""

    cache: frozenset[str]
    parts: dict[str, int]
    staging: frozenset[str]
    temp_links: frozenset[str]  # .current.xxxx / .previous.xxxx: killed inside activate()
    dirs: frozenset[str]
    current: str | None
    previous: str | None

    def phase(
        self, before: Snapshot, old: str, new: str, tidy_cache: frozenset[str], rc: int
    ) -> str:
        """How far the killed run got, from what it changed on disk."""
        if rc == 0:
            return "finished before the kill"
        if self.current != before.current:
            if self.dirs - {old, new} or self.cache != tidy_cache:
                return "inside collect()"
            return "after collect (printing, exiting)"
        if self.previous != before.previous or self.temp_links != before.temp_links:
            return "inside activate()"
        if new in self.dirs:
            return "staged, not yet activated"
        if self.staging - before.staging:
            return "staging"
        if self.cache != before.cache or self.parts != before.parts:
            return "downloading clips"
        return "start-up, metadata or manifest"


def poll_until(proc: subprocess.Popen[str], seen: Callable[[], bool]) -> None:
    while proc.poll() is None and not seen():
        time.sleep(0.0002)


@pytest.fixture
def proxy(nginx: Nginx) -> Iterator[PacedProxy]:
    with PacedProxy(nginx.url, PACE_BYTES_PER_S) as paced:
        yield paced


def publish(publisher: Publisher, clips: dict[str, float]) -> Version:
    published = publisher.publish_clips("lobby", clips)
    manifest = current_manifest(publisher.destination(), "lobby")
    assert manifest is not None and manifest.version == published.version
    signed = publisher.repo.targets().signed.targets
    for clip in manifest.clips:  # the manifest's hashes are the signed ones
        assert signed[clip.target].hashes["sha256"] == clip.sha256
    return Version(f"lobby-v{manifest.version}", manifest)


def kiosk_sync(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "sync", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_kill_9_at_random_points_of_a_sync(
    tmp_path: Path, publisher: Publisher, proxy: PacedProxy
) -> None:
    seed = int(os.environ.get("KIOSK_KILL_SEED") or random.SystemRandom().randrange(2**32))
    print(f"\nKIOSK_KILL_SEED={seed}")
    rng = random.Random(seed)
    started = time.monotonic()

    state = tmp_path / "booth"
    config = tmp_path / "kiosk.yaml"
    config.write_text(
        f"state_dir: {state}\nlog_level: info\n"
        f"sync:\n  url: {proxy.url}\n  root: {publisher.root_json}\n  set: lobby\n"
    )
    # The booth: version 1, then version 2 (one clip changed), each by the real `kiosk sync`.
    v1 = publish(publisher, {"a.wav": 1.0, "b.wav": 1.0, "c.wav": 1.0})
    done = kiosk_sync(config)
    assert done.returncode == 0, done.stderr
    v2 = publish(publisher, {"a.wav": 1.0, "b.wav": 1.5, "c.wav": 1.0})
    done = kiosk_sync(config)
    assert done.returncode == 0, done.stderr
    # Version 3: one more clip changed and five new ones to download.
    new_clips = {"d.wav": 2.5, "e.wav": 3.0, "f.wav": 2.0, "g.wav": 2.5, "h.wav": 3.0}
    v3 = publish(publisher, {"a.wav": 1.0, "b.wav": 1.5, "c.wav": 2.0, **new_clips})
    old, new = v2.folder, v3.folder
    booth = Booth(state, {v.folder: v for v in (v1, v2, v3)})
    assert booth.check(old, new) == old and booth.store.previous() == state / "sets" / v1.folder
    to_fetch = set(v3.files.values()) - set(v2.files.values())
    assert len(to_fetch) == 6
    pristine = tmp_path / "pristine"
    copy_state(state, pristine)
    tidy_cache = frozenset(
        f"{c.sha256}.{c.ext}" for v in (v2, v3) for c in v.manifest.clips
    )  # what collect leaves once version 3 is active

    log_path = tmp_path / "children.log"
    with log_path.open("ab") as log:
        children = Children(config, log)
        try:
            # How long a whole sync takes once Python is up.
            took: list[float] = []
            for _ in range(3):
                copy_state(pristine, state)
                proc = children.start()
                t0 = time.monotonic()
                rc = Children.finish(proc)
                took.append(time.monotonic() - t0)
                assert rc == 0, log_path.read_text()[-3000:]
                booth.check_done(old, new)
            full = statistics.median(took)
            print(f"a whole sync: {', '.join(f'{t * 1000:.0f}' for t in took)} ms")
            copy_state(pristine, state)

            phases: Counter[str] = Counter()
            outcomes: Counter[str] = Counter()
            modes: Counter[str] = Counter()
            runs = kills = chained = resumed = ranged = rounds = temp_links_left = 0
            fresh = True  # the state is the version-2 booth, no kill has touched it
            while kills < KILLS:
                runs += 1
                assert runs <= MAX_RUNS, f"only {kills} of {runs} runs were killed"
                mode = rng.choices(["random delay", "staging", "staged"], [75, 10, 15])[0]
                delay = (
                    rng.uniform(0, 1.2 * full) if mode == "random delay" else rng.uniform(0, LATE_S)
                )
                before = booth.snapshot()
                requests_before = len(proxy.seen)
                chained += not fresh
                resumed += any(before.parts.values())
                log.write(f"--- run {runs}: {mode}, {delay * 1000:.1f} ms\n".encode())
                log.flush()
                proc = children.start()
                if mode == "staging":  # a new staging folder, not one a kill left
                    poll_until(proc, booth.staging_beyond(before.staging))
                elif mode == "staged":
                    poll_until(proc, lambda: (booth.store.sets / new).exists())
                time.sleep(delay)
                proc.send_signal(signal.SIGKILL)
                rc = Children.finish(proc)
                fresh = False
                context = f"seed {seed}, run {runs} ({mode}, {delay * 1000:.1f} ms, rc {rc})"
                try:
                    assert rc in (0, -signal.SIGKILL)
                    active = booth.check(old, new)
                except AssertionError as e:
                    tail = log_path.read_text()[-3000:]
                    raise AssertionError(f"{context}: {e}\n{booth.snapshot()}\n{tail}") from e
                kills += rc == -signal.SIGKILL
                modes[mode] += 1
                outcomes["new" if active == new else "old"] += 1
                after = booth.snapshot()
                phases[after.phase(before, old, new, tidy_cache, rc)] += 1
                ranged += any(r for p, r in proxy.seen[requests_before:] if "/clips/" in p)
                if active == new or (booth.store.sets / new).is_dir():
                    # The round is over: the next sync must finish from here.
                    rounds += 1
                    if rc != 0:
                        log.write(f"--- round {rounds} ends: a whole sync\n".encode())
                        log.flush()
                        rc = Children.finish(children.start())
                    try:
                        assert rc == 0, f"the sync after the kill exited {rc}"
                        booth.check_done(old, new)
                    except AssertionError as e:
                        tail = log_path.read_text()[-3000:]
                        raise AssertionError(f"{context}, then: {e}\n{tail}") from e
                    temp_links_left += bool(booth.snapshot().temp_links)
                    copy_state(pristine, state)
                    fresh = True
        finally:
            children.close()

    # Whatever the last kill left, the next sync completes.
    done = kiosk_sync(config)
    assert done.returncode == 0, done.stderr
    assert f"active: lobby version {v3.manifest.version}" in done.stdout
    booth.check_done(old, new)

    print(
        f"{kills} kills in {runs} runs {dict(modes)}, {time.monotonic() - started:.1f} s\n"
        f"active after the kill: {dict(outcomes)}\n"
        f"killed while: {dict(phases.most_common())}\n"
        f"runs on what an earlier kill left: {chained}; with part files to resume: {resumed}; "
        f"that sent a Range: {ranged}\n"
        f"rounds ended by a sync that ran to its end: {rounds}, "
        f"{temp_links_left} of them with .current/.previous temp links left over"
    )
    assert outcomes["old"] and outcomes["new"]
