"""Benchmarks of content sync against Debian's nginx on loopback: `python -m bench.sync`.

A signed test repository (tests.content.Publisher's keys and folder) is filled by writing
targets straight into it (Repository.add_target_bytes, then a manifest, signed with the targets
key and published with new snapshot and timestamp), so no set needs the admin's slow loudness
and Opus pipeline except the few real clips that figure 4 plays. The large sets are WAV files
of random bytes behind a header: valid noise, cheap to make, so a booth may activate them.

Figures, in the order they are measured:

1. a no-op sync (nothing changed) of a `--clips`-clip set: HTTP requests (Fetcher.requests
   and nginx's access log) and wall time, median of `--noop-runs`;
2. one new clip published into that set: bytes the booth downloads (SyncResult and the bytes
   nginx logged) against the new clip plus the metadata a booth must fetch (timestamp,
   snapshot, targets, the set's manifest);
3. a `--size-mb` set: the booth's sync throughput against one `curl` fetching the same files
   over one connection to /dev/null (and, for reference, to files), with where the booth's
   time went (downloads, commits, staging, the rest);
4. an in-process Booth on the paced PulseAudio path (tests.audio_rig.PulseSink) playing real
   clips back to back while its own sync thread fetches a `--playback-mb` set: underruns the
   mixer counted and dropouts (silent runs inside a clip) at the sink while lifted, and the
   longest gaps between audio callbacks, by what ran meanwhile. Two runs:
   a. the booth as built: lifts of LIFT_S alternate with hang-ups of HANG_S until the set is
      staged (commits and staging wait for the hook), then one more lift;
   b. (skip with --no-bypass) that wait bypassed: one lift through the whole sync.

One human line per figure on stdout, then one JSON object with every figure as the last line.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import math
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile as sf
from tuf.api.metadata import TargetFile

from bench.common import BenchError, EventLog, run_main
from kiosk.audio.mixer import Mixer
from kiosk.content.manifest import ManifestClip, SetManifest, parse_manifest, set_target
from kiosk.content.repository import utcnow
from kiosk.sync.fetcher import Fetcher, FetchLimits
from kiosk.sync.store import SetStore, StagedClip
from kiosk.sync.updater import Source, Syncer, SyncResult
from kiosk.sync.worker import SyncWorker
from tests.audio_rig import RATE, PulseSink, Recorder
from tests.booth_runner import write_config
from tests.clipmaker import voice
from tests.content import Publisher
from tests.nginx import Nginx

MB = 1_000_000
# A silent run this long inside a playing clip is a dropout (the clips are dense noise).
THRESHOLD = 1e-4
DROPOUT_S = 0.005
BULK_FILE_MB = 5.0
PLAYBACK_CLIPS = 10
PLAYBACK_CLIP_S = 3.0
PAUSE_S = 0.3
SYNC_INTERVAL_S = 10.0  # the config's minimum
STAGED_TIMEOUT_S = 90.0
LIFT_S = 4.0  # lifts alternate with hang-ups while the booth syncs
HANG_S = 0.5

GOALS: dict[str, float] = {
    "noop_requests": 2,
    "new_clip_extra_bytes": 1024,  # downloaded - (clip + metadata)
    "throughput_vs_curl": 0.9,
    "playback_underruns": 0,
    "playback_dropouts": 0,
}


def progress(text: str) -> None:
    print(f"bench.sync: {text}", file=sys.stderr, flush=True)


def _fmt(value: float | None, digits: int = 1) -> float | None:
    """Rounded for the JSON line; None for a figure that could not be taken (never NaN)."""
    return None if value is None or math.isnan(value) else round(value, digits)


# --------------------------------------------------------------------------- the repository


class Admin:
    """Writes targets and set manifests straight into a signed repository folder."""

    def __init__(self, base: Path) -> None:
        self.publisher = Publisher(base)
        self.repo = self.publisher.repo

    def put(self, data: bytes, ext: str = "opus") -> TargetFile:
        sha = hashlib.sha256(data).hexdigest()
        return self.repo.add_target_bytes(f"clips/{sha}.{ext}", data)

    def manifest(self, name: str) -> SetManifest | None:
        info = self.repo.targets().signed.targets.get(set_target(name))
        if info is None:
            return None
        return parse_manifest(self.repo.target_path(info).read_bytes(), info.path)

    def publish_set(
        self, name: str, clips: Sequence[ManifestClip], new: Iterable[TargetFile]
    ) -> SetManifest:
        """The next version of set `name` with `clips`; `new` are targets to list first."""
        previous = self.manifest(name)
        manifest = SetManifest(
            name=name,
            version=previous.version + 1 if previous else 1,
            published=utcnow().isoformat(),
            clips=tuple(clips),
        )
        targets = self.repo.new_targets()
        for info in new:
            targets.signed.targets[info.path] = info
        info = self.repo.add_target_bytes(set_target(name), manifest.to_json())
        targets.signed.targets[info.path] = info
        targets.sign(self.publisher.keys.signer("targets"))
        self.repo.publish_targets(targets, self.publisher.online_signers())
        return manifest

    def metadata_sizes(self) -> dict[str, int]:
        """The metadata files a booth with the previous version must fetch for this one."""
        snap = self.repo.timestamp().signed.snapshot_meta.version
        targets = self.repo.snapshot().signed.meta["targets.json"].version
        names = ("timestamp.json", f"{snap}.snapshot.json", f"{targets}.targets.json")
        return {n: (self.repo.metadata / n).stat().st_size for n in names}

    def target_length(self, path: str) -> int:
        return self.repo.targets().signed.targets[path].length

    def url_path(self, info: TargetFile) -> str:
        return self.repo.target_path(info).relative_to(self.repo.folder).as_posix()


def entry(file: str, info: TargetFile) -> ManifestClip:
    return ManifestClip(file=file, target=info.path, title=f"Title {file}", speaker="Bench")


def opus_clip(seed: int, seconds: float = 1.0) -> bytes:
    """A short Opus file of noise unique to `seed`."""
    buffer = io.BytesIO()
    sf.write(buffer, voice(seed, seconds), RATE, format="OGG", subtype="OPUS")
    return buffer.getvalue()


# --------------------------------------------------------------------------- nginx's log


@dataclass(frozen=True)
class Hit:
    request: str
    status: int
    bytes: int


class AccessLog:
    """Requests nginx logged since `mark()` (its default "combined" format)."""

    def __init__(self, nginx: Nginx) -> None:
        self.path = nginx.work / "access.log"
        self._pos = 0

    def mark(self) -> None:
        self._pos = self.path.stat().st_size if self.path.exists() else 0

    def since_mark(self, expect: int = 0, timeout: float = 1.0) -> list[Hit]:
        """The hits after the mark, waiting up to `timeout` for `expect` of them (nginx logs a
        request when it finishes, which can be just after the client has read everything)."""
        deadline = time.monotonic() + timeout
        while True:
            hits = self._read()
            if len(hits) >= expect or time.monotonic() > deadline:
                return hits
            time.sleep(0.01)

    def _read(self) -> list[Hit]:
        try:
            with self.path.open("rb") as f:
                f.seek(self._pos)
                text = f.read().decode(errors="replace")
        except OSError:
            return []
        hits = []
        for line in text.splitlines():
            parts = line.split('"')
            if len(parts) < 3:
                continue
            fields = parts[2].split()
            if len(fields) >= 2 and fields[0].isdigit():
                size = int(fields[1]) if fields[1].isdigit() else 0
                hits.append(Hit(parts[1], int(fields[0]), size))
        return hits


# --------------------------------------------------------------------------- one timed sync


@dataclass
class SyncRun:
    result: SyncResult
    seconds: float
    requests: int  # Fetcher.requests during the sync
    hits: list[Hit]

    @property
    def logged_bytes(self) -> int:
        return sum(h.bytes for h in self.hits)


def run_sync(syncer: Syncer, log: AccessLog) -> SyncRun:
    log.mark()
    requests0 = syncer.fetcher.requests
    t0 = time.perf_counter()
    result = syncer.sync()
    seconds = time.perf_counter() - t0
    requests = syncer.fetcher.requests - requests0
    return SyncRun(result, seconds, requests, log.since_mark(requests))


class TimedFetcher(Fetcher):
    """Adds up the time spent in clip downloads (headers to last byte written)."""

    def __init__(self, limits: FetchLimits | None = None) -> None:
        super().__init__(limits)
        self.download_s = 0.0

    def download_resumable(self, url: str, part: Path, max_bytes: int) -> None:
        t0 = time.perf_counter()
        try:
            super().download_resumable(url, part, max_bytes)
        finally:
            self.download_s += time.perf_counter() - t0


class TimedStore(SetStore):
    """Adds up the time spent committing clips (fsync, rename) and staging the set folder."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.commit_s = 0.0
        self.stage_s = 0.0

    def commit_clip(self, part: Path, sha256: str, ext: str) -> Path:
        t0 = time.perf_counter()
        try:
            return super().commit_clip(part, sha256, ext)
        finally:
            self.commit_s += time.perf_counter() - t0

    def stage(self, name: str, version: int, clips: Iterable[StagedClip], manifest: str) -> Path:
        t0 = time.perf_counter()
        try:
            return super().stage(name, version, clips, manifest)
        finally:
            self.stage_s += time.perf_counter() - t0


def new_syncer(admin: Admin, nginx: Nginx, state: Path, name: str) -> Syncer:
    return Syncer(
        Source(nginx.url, admin.publisher.root_json, name), SetStore(state), Fetcher(), state
    )


# --------------------------------------------------------------------------- 1-2: small sets


@dataclass
class SmallFigures:
    clips: int
    clip_bytes: int  # the whole first version's clips
    initial: SyncRun
    noop: list[SyncRun]
    new_clip_bytes: int
    new_metadata: dict[str, int]
    new_manifest_bytes: int
    new: SyncRun

    @property
    def expected_new_bytes(self) -> int:
        return self.new_clip_bytes + sum(self.new_metadata.values()) + self.new_manifest_bytes


def measure_small(args: argparse.Namespace, admin: Admin, nginx: Nginx, tmp: Path) -> SmallFigures:
    log = AccessLog(nginx)
    progress(f"encoding {args.clips + 1} distinct 1 s Opus clips")
    datas = [opus_clip(1000 + i) for i in range(args.clips + 1)]
    infos = [admin.put(d) for d in datas]
    clips = [entry(f"c{i:04d}.opus", info) for i, info in enumerate(infos)]
    admin.publish_set("many", clips[:-1], infos[:-1])
    syncer = new_syncer(admin, nginx, tmp / "booth-many", "many")
    try:
        progress(f"first sync of {args.clips} clips")
        initial = run_sync(syncer, log)
        syncer.store.activate(initial.result.folder)
        progress(f"{args.noop_runs} no-op syncs")
        noop = [run_sync(syncer, log) for _ in range(args.noop_runs)]
        if any(run.result.folder != initial.result.folder for run in noop):
            raise BenchError("a no-op sync staged a different folder")
        progress("one new clip")
        admin.publish_set("many", clips, infos[-1:])
        metadata = admin.metadata_sizes()
        manifest_bytes = admin.target_length(set_target("many"))
        new = run_sync(syncer, log)
        if new.result.version != 2:
            raise BenchError(f"the new clip's sync staged version {new.result.version}, not 2")
    finally:
        syncer.close()
    return SmallFigures(
        clips=args.clips,
        clip_bytes=sum(len(d) for d in datas[:-1]),
        initial=initial,
        noop=noop,
        new_clip_bytes=len(datas[-1]),
        new_metadata=metadata,
        new_manifest_bytes=manifest_bytes,
        new=new,
    )


# --------------------------------------------------------------------------- 3: throughput


def wav_header(data_bytes: int) -> bytes:
    """A 44-byte header for 16-bit mono PCM at RATE."""
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + data_bytes,
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        1,
        RATE,
        RATE * 2,
        2,
        16,
        b"data",
        data_bytes,
    )


def make_bulk(admin: Admin, count: int, file_mb: float, seed: int) -> list[TargetFile]:
    """`count` WAV targets of `file_mb` each: random bytes behind a header, i.e. valid
    full-scale noise (about 52 s per 5 MB), so a booth may activate a set made of them."""
    data_bytes = (int(file_mb * MB) - 44) // 2 * 2
    rng = np.random.default_rng(seed)
    infos = []
    for i in range(count):
        infos.append(admin.put(wav_header(data_bytes) + rng.bytes(data_bytes), "wav"))
        if (i + 1) % 20 == 0:
            progress(f"wrote {i + 1}/{count} WAV noise targets")
    return infos


def bulk_clips(infos: Sequence[TargetFile]) -> list[ManifestClip]:
    return [entry(f"bulk{i:04d}.wav", info) for i, info in enumerate(infos)]


@dataclass
class CurlRun:
    seconds: float  # the curl process, start to exit
    transfer_seconds: float  # sum of its time_total per file
    bytes: int


def run_curl(urls: Sequence[str], out: Path | None = None) -> CurlRun:
    """One curl fetching every URL in turn (one connection, kept alive) to /dev/null, or to
    files in `out` (written to the page cache, no fsync)."""
    curl = shutil.which("curl")
    if curl is None:
        raise BenchError("curl is required")
    cmd = [curl, "-s", "--fail", "-w", "%{size_download} %{time_total}\\n"]
    for i, url in enumerate(urls):
        cmd += ["-o", "/dev/null" if out is None else str(out / f"{i}.bin"), url]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise BenchError(f"curl failed ({done.returncode}): {done.stderr.strip()}")
    size = total = 0.0
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            size += float(parts[0])
            total += float(parts[1])
    return CurlRun(seconds, total, int(size))


@dataclass
class ThroughputFigures:
    files: int
    bytes: int
    sync: SyncRun
    download_s: float
    commit_s: float
    stage_s: float
    curl: list[CurlRun] = field(default_factory=list)
    curl_files: CurlRun | None = None

    @property
    def booth_mb_s(self) -> float:
        return self.sync.result.downloaded_bytes / MB / self.sync.seconds

    @property
    def curl_best(self) -> CurlRun:
        return min(self.curl, key=lambda c: c.seconds)

    @property
    def curl_mb_s(self) -> float:
        return self.curl_best.bytes / MB / self.curl_best.seconds

    @property
    def curl_files_mb_s(self) -> float:
        c = self.curl_files
        return math.nan if c is None else c.bytes / MB / c.seconds


def measure_throughput(
    admin: Admin, nginx: Nginx, infos: Sequence[TargetFile], tmp: Path
) -> ThroughputFigures:
    admin.publish_set("bulk", bulk_clips(infos), infos)
    urls = [f"{nginx.url}/{admin.url_path(info)}" for info in infos]
    total = sum(info.length for info in infos)
    progress(f"curl: {len(urls)} files, {total / MB:.0f} MB")
    curl = [run_curl(urls)]
    state = tmp / "booth-bulk"
    store = TimedStore(state)
    fetcher = TimedFetcher()
    syncer = Syncer(Source(nginx.url, admin.publisher.root_json, "bulk"), store, fetcher, state)
    progress(f"booth sync: {len(urls)} files, {total / MB:.0f} MB")
    try:
        run = run_sync(syncer, AccessLog(nginx))
    finally:
        syncer.close()
    shutil.rmtree(state)  # half a gigabyte
    progress("curl again")
    curl.append(run_curl(urls))
    progress("curl to files")
    out = tmp / "curl-out"
    out.mkdir()
    try:
        curl_files = run_curl(urls, out)
    finally:
        shutil.rmtree(out)
    return ThroughputFigures(
        files=len(infos),
        bytes=total,
        sync=run,
        download_s=fetcher.download_s,
        commit_s=store.commit_s,
        stage_s=store.stage_s,
        curl=curl,
        curl_files=curl_files,
    )


# --------------------------------------------------------------------------- 4: playback


@dataclass(frozen=True)
class SyncSpan:
    start: float  # time.monotonic()
    end: float
    version: int | None  # None: the sync failed
    downloaded_bytes: int


class TimedSyncer(Syncer):
    """Notes when each of the booth's syncs ran (called on its sync thread)."""

    spans: list[SyncSpan]

    def sync(self) -> SyncResult:
        t0 = time.monotonic()
        try:
            result = super().sync()
        except BaseException:
            self.spans.append(SyncSpan(t0, time.monotonic(), None, 0))
            raise
        self.spans.append(SyncSpan(t0, time.monotonic(), result.version, result.downloaded_bytes))
        return result


def timed_copy(syncer: Syncer, spans: list[SyncSpan], bypass_quiet: bool) -> TimedSyncer:
    """The same syncer (its fetcher, store and the worker's `quiet` hook) with its syncs timed;
    `bypass_quiet` lets commits and staging run while the handset is off the hook."""
    timed = TimedSyncer.__new__(TimedSyncer)
    timed.__dict__.update(syncer.__dict__)
    timed.spans = spans
    if bypass_quiet:
        timed.quiet = lambda: None
    return timed


class StampMixer(Mixer):
    """Notes the time of every audio callback, and of those that report an underrun."""

    stamps: list[float]
    underrun_stamps: list[float]

    def render(self, out: npt.NDArray[np.float32], underrun: bool = False) -> None:
        now = time.monotonic()
        self.stamps.append(now)
        if underrun:
            self.underrun_stamps.append(now)
        super().render(out, underrun)


def stamp_mixer(*args: Any) -> Mixer:
    mixer = StampMixer(*args)
    mixer.stamps = []
    mixer.underrun_stamps = []
    return mixer


# What ran on the booth's other threads at a moment while the handset was lifted: the sync
# of the new set (including its waits for the hook), another (no-op) sync, the bench's own
# publish, or nothing.
PHASES = ("sync", "noop_sync", "publish", "other")


class Phases:
    """Which phase a moment belongs to (a callback reports an underrun a block late)."""

    def __init__(
        self, span: SyncSpan, others: Sequence[SyncSpan], publish: tuple[float, float]
    ) -> None:
        margin = 0.05
        self._windows = [("sync", span.start, span.end + margin)]
        self._windows += [("noop_sync", s.start, s.end + margin) for s in others]
        self._windows.append(("publish", publish[0], publish[1] + margin))

    def of(self, t: float) -> str:
        return next((name for name, a, b in self._windows if a <= t <= b), "other")


def _inside(t: float, windows: Sequence[tuple[float, float]]) -> bool:
    return any(a <= t <= b for a, b in windows)


@dataclass
class PlaybackFigures:
    mode: str  # "lifts": the booth as built; "bypass": its on-hook wait bypassed
    set_bytes: int
    files: int
    span: SyncSpan | None = None  # the sync that fetched the new set
    other_spans: list[SyncSpan] = field(default_factory=list)  # other syncs while lifted
    publish_to_staged_s: float | None = None
    lifts: int = 0
    lifted_s: float = 0.0
    bytes_while_lifted: int = 0
    underruns: int = 0  # while lifted
    callbacks: int = 0  # while lifted
    underruns_on_hook: int = 0  # silence anyway
    underruns_by_phase: dict[str, int] = field(default_factory=dict)
    underrun_after_lift_s: list[tuple[int, float]] = field(default_factory=list)  # (lift, s)
    max_callback_gap_ms: dict[str, float] = field(default_factory=dict)
    clips_started: int = 0
    clips_during_sync: int = 0
    dropouts: list[float] = field(default_factory=list)  # their lengths (ms)
    silent_gaps: int = 0  # every silent run, pauses between clips included
    blocksize: int | None = None
    portaudio_latency_ms: float | None = None
    failed_syncs: int = 0


def _clip_windows(events: EventLog) -> list[tuple[float, float]]:
    """(clip_start t, clip_end t) of every clip; a clip still playing ends at infinity."""
    windows: list[tuple[float, float]] = []
    start: float | None = None
    for e in events.named("clip_start", "clip_end"):
        if e["event"] == "clip_start":
            start = float(e["t"])
        elif start is not None:
            windows.append((start, float(e["t"])))
            start = None
    if start is not None:
        windows.append((start, math.inf))
    return windows


def find_dropouts(rec: Recorder, windows: Sequence[tuple[float, float]]) -> tuple[list[float], int]:
    """Silent runs of DROPOUT_S or more that begin while a clip plays: (lengths in ms, runs).

    A clip's sound reaches the sink some ms after its clip_start and clip_end events (a hang-up
    ends a clip too), and the recorder's stamps are upper bounds, so the silence after a clip
    (beginning at or after its clip_end) never counts, and a silent run that begins after a
    clip_start is inside that clip.
    """
    x = rec.samples()
    loud = np.flatnonzero(np.abs(x) > THRESHOLD)
    if loud.size == 0:
        raise BenchError("nothing was heard at the sink")
    gaps = np.flatnonzero(np.diff(loud) > DROPOUT_S * RATE)
    dropouts = []
    for g in gaps:
        begin = int(loud[g]) + 1
        stamp = rec.time_of_sample(begin)
        if any(a <= stamp < b for a, b in windows):
            dropouts.append((int(loud[g + 1]) - begin) / RATE * 1000)
    return dropouts, int(gaps.size)


class LiveBooth:
    """An in-process Booth on mock pins, syncing set `name` from nginx, its syncs timed."""

    def __init__(
        self,
        config_path: Path,
        seed: int,
        bypass_quiet: bool,
    ) -> None:
        # Imported here: sounddevice initialises PortAudio (and reads the ALSA config) on
        # import, which must happen after os.environ points ALSA at the PulseSink.
        from gpiozero.pins.mock import MockFactory

        from kiosk.app import Booth
        from kiosk.config import load_config
        from kiosk.simulate import SimulatedHook, start_booth

        spans: list[SyncSpan] = []
        self.spans = spans

        class TimedBooth(Booth):
            def _sync_worker(self, store: SetStore) -> SyncWorker:
                worker = super()._sync_worker(store)
                worker.syncer = timed_copy(worker.syncer, spans, bypass_quiet)
                return worker

        config = load_config(config_path)
        self.factory = MockFactory()
        self.hook = SimulatedHook(self.factory, config.hook)
        self.events = EventLog()
        self.booth = TimedBooth(
            config,
            [self.events],
            pin_factory=self.factory,
            rng=random.Random(seed),
            mixer_factory=stamp_mixer,
        )
        self.thread = start_booth(self.booth)
        self.lifts = 0
        deadline = time.monotonic() + 15
        while self.booth.sync is None or not self.booth.ready.is_set():
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise BenchError("the booth stopped or did not start its sync worker")
            time.sleep(0.05)
        self.hook.hangup()
        mixer = self.booth.mixer
        assert isinstance(mixer, StampMixer)
        self.mixer = mixer
        self.fetcher = self.booth.sync.syncer.fetcher

    def lift(self) -> float:
        self.lifts += 1
        self.hook.lift()
        return float(self.events.wait("lift", self.lifts)["t"])

    def hangup(self) -> float:
        self.hook.hangup()
        return float(self.events.wait("hangup", self.lifts)["t"])

    def check(self) -> None:
        if not self.thread.is_alive():
            raise BenchError("the booth stopped")

    def span(self, found: Callable[[SyncSpan], bool]) -> SyncSpan | None:
        return next((s for s in self.spans if found(s)), None)

    def stop(self) -> None:
        self.booth.request_stop()
        self.thread.join(timeout=15)
        self.factory.close()
        if self.thread.is_alive():
            raise BenchError("the in-process booth did not stop within 15 s")


def measure_playback(
    args: argparse.Namespace,
    admin: Admin,
    nginx: Nginx,
    sink: PulseSink,
    real: Sequence[ManifestClip],
    bulk: Sequence[TargetFile],
    tmp: Path,
    mode: str,
) -> PlaybackFigures:
    """`mode` "lifts": lifts of LIFT_S alternate with hang-ups of HANG_S until the booth has
    synced the new set (its commits and staging wait for the hook, as built); "bypass": one
    lift through the whole sync, the wait for the hook bypassed."""
    name = f"live-{mode}"
    admin.publish_set(name, real, [])
    folder = tmp / f"booth-{mode}"
    folder.mkdir()
    state = folder / "state"
    pre = new_syncer(admin, nginx, state, name)
    try:
        pre.store.activate(pre.sync().folder)
    finally:
        pre.close()
    config_path = write_config(
        folder,
        state / "sets" / "current",
        audio__device="default",
        sync__url=nginx.url,
        sync__root=admin.publisher.root_json,
        sync__set=name,
        sync__interval=SYNC_INTERVAL_S,
        clips__pause_s=PAUSE_S,
        max_clips_per_lift=1000,
        offhook_timeout=3600,
    )
    figures = PlaybackFigures(mode, sum(i.length for i in bulk), len(bulk))
    live = LiveBooth(config_path, args.seed, bypass_quiet=mode == "bypass")
    rec: Recorder | None = None
    lifted: list[tuple[float, float]] = []
    try:
        stream = live.booth.audio._stream if live.booth.audio is not None else None
        if stream is not None:
            figures.portaudio_latency_ms = float(stream.latency) * 1000
            figures.blocksize = int(stream.blocksize)
        time.sleep(0.5)  # let the library decode the first clip
        rec = sink.record()

        def publish() -> tuple[float, float]:
            t0 = time.monotonic()
            admin.publish_set(name, [*real, *bulk_clips(bulk)], bulk)
            return t0, time.monotonic()

        if mode == "lifts":  # on the hook: the bench's own work stays out of the lifts
            t_publish, t_published = publish()
        b0 = live.fetcher.bytes
        t_lift = live.lift()
        live.events.wait("clip_start", 1)
        if mode == "bypass":  # once a clip plays, so that the whole sync runs during it
            t_publish, t_published = publish()
        deadline = t_publish + STAGED_TIMEOUT_S
        if mode == "bypass":
            progress(f"bypass: one lift while the booth syncs {figures.set_bytes / MB:.0f} MB")
            while (staged := live.span(lambda s: s.version == 2)) is None:
                _tick(live, deadline)
            staged_at = staged.end
            while live.span(lambda s: s.start > staged_at) is None:  # one more, a no-op
                _tick(live, deadline)
            time.sleep(0.5)
            t_end = time.monotonic()
            lifted.append((t_lift, t_end))
            figures.bytes_while_lifted = live.fetcher.bytes - b0
        else:
            progress(
                f"lifts of {LIFT_S:g} s and hang-ups of {HANG_S:g} s while the booth syncs "
                f"{figures.set_bytes / MB:.0f} MB (its sync thread runs every "
                f"{SYNC_INTERVAL_S:g} s)"
            )
            final = False
            while True:
                while time.monotonic() < t_lift + LIFT_S:
                    _tick(live, deadline + LIFT_S)
                t_hang = live.hangup()
                lifted.append((t_lift, t_hang))
                figures.bytes_while_lifted += live.fetcher.bytes - b0
                if final:
                    break
                final = live.span(lambda s: s.version == 2) is not None
                time.sleep(HANG_S)
                _tick(live, deadline)
                b0 = live.fetcher.bytes
                t_lift = live.lift()
            t_end = time.monotonic()
        span = live.span(lambda s: s.version == 2)
        assert span is not None
        mixer = live.mixer
        figures.span = span
        figures.publish_to_staged_s = span.end - t_publish
        figures.other_spans = [
            s
            for s in live.spans
            if s is not span and any(s.start < b and s.end > a for a, b in lifted)
        ]
        figures.failed_syncs = sum(1 for s in live.spans if s.version is None)
        figures.lifts = len(lifted)
        figures.lifted_s = sum(b - a for a, b in lifted)
        phases = Phases(span, figures.other_spans, (t_publish, t_published))
        figures.underruns_by_phase = {p: 0 for p in PHASES}
        for t in mixer.underrun_stamps:
            if _inside(t, lifted):
                figures.underruns_by_phase[phases.of(t)] += 1
                figures.underruns += 1
                n, a = max((i, a) for i, (a, _) in enumerate(lifted, 1) if a <= t)
                figures.underrun_after_lift_s.append((n, round(t - a, 3)))
            elif t_lift <= t <= t_end:
                figures.underruns_on_hook += 1
        stamps = np.asarray(mixer.stamps, dtype=np.float64)
        for a, b in lifted:
            x = stamps[(stamps >= a) & (stamps <= b)]
            figures.callbacks += int(x.size)
            for t, gap in zip(x[1:], np.diff(x), strict=True):
                phase = phases.of(float(t))
                old = figures.max_callback_gap_ms.get(phase, 0.0)
                figures.max_callback_gap_ms[phase] = max(old, float(gap) * 1000)
        rec.sync(0.05)
        windows = _clip_windows(live.events)
        figures.clips_started = len(windows)
        figures.clips_during_sync = sum(1 for a, b in windows if a < span.end and b > span.start)
        figures.dropouts, figures.silent_gaps = find_dropouts(rec, windows)
    finally:
        if rec is not None:
            rec.stop()
        live.stop()  # "bypass" stops off the hook: its staged set never activates
    shutil.rmtree(folder)
    return figures


def _tick(live: LiveBooth, deadline: float) -> None:
    live.check()
    if time.monotonic() > deadline:
        raise BenchError(f"the booth did not sync the new set within {STAGED_TIMEOUT_S:g} s")
    time.sleep(0.05)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.sync", description=__doc__.split("\n")[0])
    p.add_argument("--size-mb", type=float, default=500.0, help="throughput set (500)")
    p.add_argument("--clips", type=int, default=200, help="clips in the no-op set (200)")
    p.add_argument("--noop-runs", type=int, default=10, help="no-op syncs to time (10)")
    p.add_argument(
        "--playback-mb", type=float, default=500.0, help="set synced during playback (500)"
    )
    p.add_argument("--no-audio", action="store_true", help="skip figure 4 (PulseAudio)")
    p.add_argument(
        "--no-bypass",
        action="store_true",
        help="skip figure 4's second run (the sync's wait for the hook bypassed)",
    )
    p.add_argument("--seed", type=int, default=1, help="random bytes and clip order (1)")
    args = p.parse_args(argv)
    if args.size_mb <= 0 or args.playback_mb <= 0 or args.clips < 1 or args.noop_runs < 1:
        p.error("--size-mb and --playback-mb must be > 0, --clips and --noop-runs >= 1")
    return args


def check_disk(tmp: Path, args: argparse.Namespace) -> None:
    # The repository holds the larger random set; a booth's copy of one set comes and goes.
    need = 2 * max(args.size_mb, 0 if args.no_audio else args.playback_mb) * MB + 300 * MB
    free = shutil.disk_usage(tmp).free
    if free < need:
        raise BenchError(f"{tmp}: {free / MB:.0f} MB free, the bench needs {need / MB:.0f} MB")
    progress(f"{tmp}: {free / 1e9:.0f} GB free")


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    check_disk(tmp, args)
    admin = Admin(tmp / "admin")
    playback: list[PlaybackFigures] = []
    with Nginx(admin.repo.folder, tmp / "nginx") as nginx:
        small = measure_small(args, admin, nginx, tmp)
        report_small(small)
        sizes = [args.size_mb] + ([] if args.no_audio else [args.playback_mb])
        file_mb = min(BULK_FILE_MB, *sizes)
        counts = [max(1, round(mb / file_mb)) for mb in sizes]
        progress(f"writing {max(counts)} x {file_mb:g} MB of WAV noise targets")
        bulk = make_bulk(admin, max(counts), file_mb, args.seed)
        throughput = measure_throughput(admin, nginx, bulk[: counts[0]], tmp)
        report_throughput(throughput)
        if not args.no_audio:
            progress(f"publishing {PLAYBACK_CLIPS} real clips through the admin pipeline")
            clips = {f"p{i:02d}.wav": PLAYBACK_CLIP_S for i in range(PLAYBACK_CLIPS)}
            admin.publisher.publish_clips("live", clips)
            real = admin.manifest("live")
            assert real is not None
            progress("starting PulseAudio")
            with PulseSink(tmp) as sink:
                if "sounddevice" in sys.modules:
                    raise BenchError("sounddevice was imported before ALSA was pointed at the sink")
                os.environ.update(sink.env)
                for mode in ("lifts", *(() if args.no_bypass else ("bypass",))):
                    figures = measure_playback(
                        args, admin, nginx, sink, real.clips, bulk[: counts[1]], tmp, mode
                    )
                    report_playback(figures)
                    playback.append(figures)
    return figures_json(small, throughput, playback)


# --------------------------------------------------------------------------- reporting


def report_small(s: SmallFigures) -> None:
    noop_s = [r.seconds for r in s.noop]
    requests = [r.requests for r in s.noop]
    logged = [len(r.hits) for r in s.noop]
    print(
        f"first sync of {s.clips} clips ({s.clip_bytes / 1024:.0f} KiB of clips): "
        f"{s.initial.requests} requests, {s.initial.result.downloaded_bytes / 1024:.0f} KiB, "
        f"{s.initial.seconds:.2f} s"
    )
    print(
        f"no-op sync: {max(requests)} HTTP requests (nginx logged {max(logged)}: "
        f"{', '.join(h.request.split()[1] for h in s.noop[-1].hits)}), "
        f"{max(r.result.downloaded_bytes for r in s.noop)} bytes; wall time median "
        f"{statistics.median(noop_s) * 1000:.1f} ms, max {max(noop_s) * 1000:.1f} ms over "
        f"{len(noop_s)} runs (goal <= {GOALS['noop_requests']:g} requests)"
    )
    meta = ", ".join(f"{k} {v}" for k, v in s.new_metadata.items())
    print(
        f"one new clip into {s.clips}: downloaded {s.new.result.downloaded_bytes} bytes "
        f"(nginx logged {s.new.logged_bytes} in {len(s.new.hits)} requests) against "
        f"{s.expected_new_bytes} expected = clip {s.new_clip_bytes} + manifest "
        f"{s.new_manifest_bytes} + {meta}; {s.new.seconds * 1000:.0f} ms "
        f"(goal <= expected + {GOALS['new_clip_extra_bytes']:g})"
    )


def report_throughput(t: ThroughputFigures) -> None:
    sync_s = t.sync.seconds
    other = sync_s - t.download_s - t.commit_s - t.stage_s
    c = t.curl_best
    print(
        f"{t.bytes / MB:.0f} MB in {t.files} files over loopback: booth sync "
        f"{t.booth_mb_s:.0f} MB/s ({sync_s:.2f} s), curl {t.curl_mb_s:.0f} MB/s "
        f"({c.seconds:.2f} s, transfers {c.transfer_seconds:.2f} s; runs "
        f"{', '.join(f'{r.seconds:.2f}' for r in t.curl)} s): ratio "
        f"{t.booth_mb_s / t.curl_mb_s:.2f} (goal >= {GOALS['throughput_vs_curl']:g})"
    )
    print(
        f"  curl writing files (page cache, no fsync) {t.curl_files_mb_s:.0f} MB/s: booth ratio "
        f"{t.booth_mb_s / t.curl_files_mb_s:.2f}"
    )
    print(
        f"  booth time: downloads {t.download_s:.2f} s, commit (fsync, rename) "
        f"{t.commit_s:.2f} s, staging {t.stage_s:.2f} s, the rest (metadata, hash checks) "
        f"{other:.2f} s; {t.sync.requests} requests"
    )


def report_playback(p: PlaybackFigures) -> None:
    span = p.span
    assert span is not None
    sync_s = span.end - span.start
    others = ", ".join(f"{(s.end - s.start) * 1000:.0f} ms" for s in p.other_spans) or "none"
    if p.mode == "lifts":
        how = (
            f"the booth as built, {p.lifts} lifts of {LIFT_S:g} s with {HANG_S:g} s hang-ups "
            f"(commits and staging wait for the hook)"
        )
    else:
        how = "the booth's wait for the hook bypassed, one lift through the whole sync"
    print(
        f"sync during playback, {how}: {p.files} files, "
        f"{span.downloaded_bytes / MB:.0f} MB, sync start -> staged {sync_s:.2f} s, "
        f"{p.bytes_while_lifted / MB:.0f} MB of it downloaded while lifted "
        f"({p.lifted_s:.1f} s, {p.clips_during_sync} clips during the sync); other syncs "
        f"while lifted: {others}; blocksize {p.blocksize}, PortAudio latency "
        f"{p.portaudio_latency_ms or math.nan:.1f} ms"
    )
    phases = ", ".join(f"{k} {v}" for k, v in p.underruns_by_phase.items())
    print(
        f"  underruns while lifted: {p.underruns} in {p.callbacks} callbacks ({phases}; "
        f"{p.underruns_on_hook} more on the hook, silent); dropouts at the sink: "
        f"{len(p.dropouts)}"
        + (f" ({', '.join(f'{d:.1f}' for d in p.dropouts[:10])} ms)" if p.dropouts else "")
        + f" in {p.clips_started} clips"
        + (" (goal 0)" if p.mode == "lifts" else "")
    )
    gaps = ", ".join(f"{k} {v:.1f} ms" for k, v in p.max_callback_gap_ms.items())
    print(f"  longest gap between audio callbacks while lifted: {gaps}")
    if p.underrun_after_lift_s:
        at = ", ".join(f"lift {n} +{s:.2f} s" for n, s in p.underrun_after_lift_s[:10])
        print(f"  underruns at: {at}")


def playback_json(p: PlaybackFigures) -> dict[str, Any]:
    assert p.span is not None
    sync_s = p.span.end - p.span.start
    return {
        "files": p.files,
        "bytes": p.span.downloaded_bytes,
        "sync_s": _fmt(sync_s, 3),
        "publish_to_staged_s": _fmt(p.publish_to_staged_s),
        "lifts": p.lifts,
        "lifted_s": _fmt(p.lifted_s),
        "bytes_while_lifted": p.bytes_while_lifted,
        "clips_started": p.clips_started,
        "clips_during_sync": p.clips_during_sync,
        "underruns": p.underruns,
        "callbacks": p.callbacks,
        "underruns_by_phase": p.underruns_by_phase,
        "underruns_on_hook": p.underruns_on_hook,
        "underrun_after_lift_s": p.underrun_after_lift_s,
        "dropouts": len(p.dropouts),
        "dropout_ms": [round(d, 1) for d in p.dropouts],
        "silent_gaps": p.silent_gaps,
        "other_sync_ms": [round((s.end - s.start) * 1000) for s in p.other_spans],
        "max_callback_gap_ms": {k: round(v, 1) for k, v in p.max_callback_gap_ms.items()},
        "failed_syncs": p.failed_syncs,
        "blocksize_frames": p.blocksize,
        "portaudio_latency_ms": _fmt(p.portaudio_latency_ms),
    }


def figures_json(
    s: SmallFigures, t: ThroughputFigures, playback: Sequence[PlaybackFigures]
) -> dict[str, Any]:
    noop_requests = max(r.requests for r in s.noop)
    extra = s.new.result.downloaded_bytes - s.expected_new_bytes
    ratio = t.booth_mb_s / t.curl_mb_s
    out: dict[str, Any] = {
        "clips": s.clips,
        "initial_sync_requests": s.initial.requests,
        "initial_sync_bytes": s.initial.result.downloaded_bytes,
        "initial_sync_s": _fmt(s.initial.seconds, 3),
        "noop_requests": noop_requests,
        "noop_requests_logged": max(len(r.hits) for r in s.noop),
        "noop_bytes": max(r.result.downloaded_bytes for r in s.noop),
        "noop_ms_median": _fmt(statistics.median(r.seconds for r in s.noop) * 1000, 2),
        "noop_ms_runs": [round(r.seconds * 1000, 2) for r in s.noop],
        "new_clip_downloaded_bytes": s.new.result.downloaded_bytes,
        "new_clip_logged_bytes": s.new.logged_bytes,
        "new_clip_requests": s.new.requests,
        "new_clip_expected_bytes": s.expected_new_bytes,
        "new_clip_bytes": s.new_clip_bytes,
        "new_clip_manifest_bytes": s.new_manifest_bytes,
        "new_clip_metadata_bytes": s.new_metadata,
        "new_clip_extra_bytes": extra,
        "new_clip_sync_ms": _fmt(s.new.seconds * 1000),
        "throughput_files": t.files,
        "throughput_mb": _fmt(t.bytes / MB),
        "booth_sync_s": _fmt(t.sync.seconds, 3),
        "booth_mb_s": _fmt(t.booth_mb_s),
        "booth_download_s": _fmt(t.download_s, 3),
        "booth_commit_s": _fmt(t.commit_s, 3),
        "booth_stage_s": _fmt(t.stage_s, 3),
        "curl_s": [round(c.seconds, 3) for c in t.curl],
        "curl_transfer_s": [round(c.transfer_seconds, 3) for c in t.curl],
        "curl_mb_s": _fmt(t.curl_mb_s),
        "curl_files_s": _fmt(t.curl_files.seconds if t.curl_files else None, 3),
        "curl_files_mb_s": _fmt(t.curl_files_mb_s),
        "throughput_vs_curl_files": _fmt(t.booth_mb_s / t.curl_files_mb_s, 3),
        "throughput_vs_curl": _fmt(ratio, 3),
    }
    meets = {
        "noop_requests": noop_requests <= GOALS["noop_requests"],
        "new_clip_extra_bytes": extra <= GOALS["new_clip_extra_bytes"],
        "throughput_vs_curl": ratio >= GOALS["throughput_vs_curl"],
    }
    for p in playback:
        prefix = "playback" if p.mode == "lifts" else "bypass"
        out |= {f"{prefix}_{k}": v for k, v in playback_json(p).items()}
        if p.mode == "lifts":
            meets |= {
                "playback_underruns": p.underruns <= GOALS["playback_underruns"],
                "playback_dropouts": len(p.dropouts) <= GOALS["playback_dropouts"],
            }
    out |= {"goals": GOALS, "meets_goals": meets}
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_main("bench.sync", lambda tmp: run(args, tmp))


if __name__ == "__main__":
    sys.exit(main())
