"""Benchmarks of content sync against Debian's nginx on loopback: `python -m bench.sync`.

A signed test repository (tests.content.Publisher's keys and folder) is filled by writing
targets straight into it (Repository.add_target_bytes, then a manifest, signed with the targets
key and published with new snapshot and timestamp), so no set needs the admin's slow loudness
and Opus pipeline except the few real clips that figure 4 plays.

Figures, in the order they are measured:

1. a no-op sync (nothing changed) of a `--clips`-clip set: HTTP requests (Fetcher.requests
   and nginx's access log) and wall time, median of `--noop-runs`;
2. one new clip published into that set: bytes the booth downloads (SyncResult and the bytes
   nginx logged) against the new clip plus the metadata a booth must fetch (timestamp,
   snapshot, targets, the set's manifest);
3. a `--size-mb` set of random-byte targets: the booth's sync throughput against one `curl`
   fetching the same files over one connection, with where the booth's time went;
4. a sync of a `--playback-mb` set while an in-process Booth plays real clips continuously
   on the paced PulseAudio path (tests.audio_rig.PulseSink): the mixer's underruns and
   dropouts (silent runs inside a clip) at the sink, and the audio callback's gaps.

One human line per figure on stdout, then one JSON object with every figure as the last line.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile as sf
from tuf.api.metadata import TargetFile

from kiosk.audio.mixer import Mixer
from kiosk.content.manifest import ManifestClip, SetManifest, parse_manifest, set_target
from kiosk.content.repository import utcnow
from kiosk.sync.fetcher import Fetcher, FetchLimits
from kiosk.sync.store import SetStore
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

GOALS: dict[str, float] = {
    "noop_requests": 2,
    "new_clip_extra_bytes": 1024,  # downloaded - (clip + metadata)
    "throughput_vs_curl": 0.9,
    "playback_underruns": 0,
    "playback_dropouts": 0,
}


class BenchError(RuntimeError):
    """A measurement could not be taken."""


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

    def stage(self, name: str, version: int, clips: Iterable[Any], manifest: str) -> Path:
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


def make_bulk(admin: Admin, size_mb: float, seed: int) -> list[TargetFile]:
    """Random-byte targets of BULK_FILE_MB each (one smaller file for a small size)."""
    file_mb = min(BULK_FILE_MB, size_mb)
    count = max(1, round(size_mb / file_mb))
    size = int(file_mb * MB)
    rng = np.random.default_rng(seed)
    infos = []
    for i in range(count):
        infos.append(admin.put(rng.bytes(size)))
        if (i + 1) % 20 == 0:
            progress(f"wrote {i + 1}/{count} random targets")
    return infos


def bulk_clips(infos: Sequence[TargetFile]) -> list[ManifestClip]:
    return [entry(f"bulk{i:04d}.opus", info) for i, info in enumerate(infos)]


@dataclass
class CurlRun:
    seconds: float  # the curl process, start to exit
    transfer_seconds: float  # sum of its time_total per file
    bytes: int


def run_curl(urls: Sequence[str]) -> CurlRun:
    """One curl fetching every URL in turn (one connection, kept alive) to /dev/null."""
    curl = shutil.which("curl")
    if curl is None:
        raise BenchError("curl is required")
    cmd = [curl, "-s", "--fail", "-w", "%{size_download} %{time_total}\\n"]
    for url in urls:
        cmd += ["-o", "/dev/null", url]
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

    @property
    def booth_mb_s(self) -> float:
        return self.sync.result.downloaded_bytes / MB / self.sync.seconds

    @property
    def curl_best(self) -> CurlRun:
        return min(self.curl, key=lambda c: c.seconds)

    @property
    def curl_mb_s(self) -> float:
        return self.curl_best.bytes / MB / self.curl_best.seconds


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
    progress("curl again")
    curl.append(run_curl(urls))
    shutil.rmtree(state)  # half a gigabyte
    return ThroughputFigures(
        files=len(infos),
        bytes=total,
        sync=run,
        download_s=fetcher.download_s,
        commit_s=store.commit_s,
        stage_s=store.stage_s,
        curl=curl,
    )


# --------------------------------------------------------------------------- 4: playback


class EventLog:
    """An EventSink that keeps every event and lets the bench wait for one."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()

    def publish(self, record: dict[str, Any]) -> None:
        with self._cond:
            self.events.append(dict(record))
            self._cond.notify_all()

    def wait(self, event: str, count: int, timeout: float = 10.0) -> dict[str, Any]:
        def found() -> list[dict[str, Any]]:
            return [e for e in self.events if e.get("event") == event]

        with self._cond:
            if not self._cond.wait_for(lambda: len(found()) >= count, timeout):
                raise BenchError(f"no {event!r} event #{count} within {timeout} s")
            return found()[count - 1]

    def named(self, *names: str) -> list[dict[str, Any]]:
        with self._cond:
            return [e for e in self.events if e.get("event") in names]


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


class StampMixer(Mixer):
    """Notes the time of every audio callback (one clock read and a list append)."""

    stamps: list[float]

    def render(self, out: npt.NDArray[np.float32], underrun: bool = False) -> None:
        self.stamps.append(time.monotonic())
        super().render(out, underrun)


def stamp_mixer(*args: Any) -> Mixer:
    mixer = StampMixer(*args)
    mixer.stamps = []
    return mixer


@dataclass
class PlaybackFigures:
    set_bytes: int
    files: int
    span: SyncSpan | None = None
    publish_to_staged_s: float | None = None
    underruns: int = 0
    callbacks: int = 0
    underruns_during_sync: int = 0
    callbacks_during_sync: int = 0
    clips_started: int = 0
    clips_during_sync: int = 0
    dropouts: list[float] = field(default_factory=list)  # their lengths (ms)
    silent_gaps: int = 0  # every silent run, pauses between clips included
    max_callback_gap_ms: float | None = None  # during the sync
    max_callback_gap_before_ms: float | None = None  # while playing, before the sync
    blocksize: int | None = None
    portaudio_latency_ms: float | None = None
    failed_syncs: int = 0


def _max_gap_ms(stamps: Sequence[float], t0: float, t1: float) -> float | None:
    x = np.asarray([s for s in stamps if t0 <= s <= t1], dtype=np.float64)
    return float(np.max(np.diff(x)) * 1000) if x.size > 1 else None


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

    A clip's sound reaches the sink some ms after its clip_start and clip_end events, and the
    recorder's stamps are upper bounds, so the pause after a clip (beginning at or after its
    clip_end) never counts, and a silent run that begins after a clip_start is inside it.
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


def measure_playback(
    args: argparse.Namespace,
    admin: Admin,
    nginx: Nginx,
    sink: PulseSink,
    bulk: Sequence[TargetFile],
    tmp: Path,
) -> PlaybackFigures:
    # Imported here: sounddevice initialises PortAudio (and reads the ALSA config) on import,
    # which must happen after os.environ points ALSA at the PulseSink.
    from gpiozero.pins.mock import MockFactory

    from kiosk.app import Booth
    from kiosk.config import load_config
    from kiosk.simulate import SimulatedHook, start_booth

    progress(f"publishing {PLAYBACK_CLIPS} real clips through the admin pipeline")
    clips = {f"p{i:02d}.wav": PLAYBACK_CLIP_S for i in range(PLAYBACK_CLIPS)}
    admin.publisher.publish_clips("live", clips)
    first = admin.manifest("live")
    assert first is not None
    folder = tmp / "booth-live"
    folder.mkdir()
    state = folder / "state"
    pre = new_syncer(admin, nginx, state, "live")
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
        sync__set="live",
        sync__interval=SYNC_INTERVAL_S,
        clips__pause_s=PAUSE_S,
        max_clips_per_lift=1000,
        offhook_timeout=3600,
    )

    class TimedBooth(Booth):
        """The booth with its syncer swapped for one that notes when each sync ran."""

        spans: list[SyncSpan]

        def _sync_worker(self, store: SetStore) -> SyncWorker:
            worker = super()._sync_worker(store)
            old = worker.syncer
            timed = TimedSyncer(old.source, old.store, old.fetcher, Path(self.config.state_dir))
            timed.spans = self.spans
            worker.syncer = timed
            return worker

    config = load_config(config_path)
    factory = MockFactory()
    hook = SimulatedHook(factory, config.hook)
    events = EventLog()
    booth = TimedBooth(
        config,
        [events],
        pin_factory=factory,
        rng=random.Random(args.seed),
        mixer_factory=stamp_mixer,
    )
    spans: list[SyncSpan] = []
    booth.spans = spans
    figures = PlaybackFigures(set_bytes=sum(i.length for i in bulk), files=len(bulk))
    thread = start_booth(booth)
    rec: Recorder | None = None
    try:
        deadline = time.monotonic() + 15
        while booth.sync is None or not booth.ready.is_set():
            if not thread.is_alive() or time.monotonic() > deadline:
                raise BenchError("the booth stopped or did not start its sync worker")
            time.sleep(0.05)
        hook.hangup()
        mixer = booth.mixer
        assert isinstance(mixer, StampMixer)
        stream = booth.audio._stream if booth.audio is not None else None
        if stream is not None:
            figures.portaudio_latency_ms = float(stream.latency) * 1000
            figures.blocksize = int(stream.blocksize)
        time.sleep(0.5)  # let the library decode the first clip
        rec = sink.record()
        stats = mixer.stats
        hook.lift()
        t_lift = float(events.wait("lift", 1)["t"])
        events.wait("clip_start", 1)
        underruns0, callbacks0 = stats.underruns, stats.callbacks
        progress(
            f"playing; publishing {figures.files} files ({figures.set_bytes / MB:.0f} MB) into "
            f"the booth's set and waiting for its sync thread (every {SYNC_INTERVAL_S:g} s)"
        )
        t_publish = time.monotonic()
        admin.publish_set("live", [*first.clips, *bulk_clips(bulk)], bulk)
        marks: list[tuple[float, int, int]] = []  # (t, underruns, callbacks)
        deadline = time.monotonic() + STAGED_TIMEOUT_S
        while not any(s.version == 2 for s in spans):
            if time.monotonic() > deadline:
                raise BenchError(f"the booth did not stage the new set in {STAGED_TIMEOUT_S} s")
            if not thread.is_alive():
                raise BenchError("the booth stopped during the sync")
            marks.append((time.monotonic(), stats.underruns, stats.callbacks))
            time.sleep(0.05)
        span = next(s for s in spans if s.version == 2)
        figures.span = span
        figures.publish_to_staged_s = span.end - t_publish
        figures.failed_syncs = sum(1 for s in spans if s.version is None)
        time.sleep(1.0)  # keep playing a little after the sync
        figures.underruns = stats.underruns - underruns0
        figures.callbacks = stats.callbacks - callbacks0
        during = [m for m in marks if span.start - 0.05 <= m[0] <= span.end + 0.05]
        if during:
            figures.underruns_during_sync = during[-1][1] - during[0][1]
            figures.callbacks_during_sync = during[-1][2] - during[0][2]
        rec.sync(0.05)
        windows = _clip_windows(events)
        figures.clips_started = len(windows)
        figures.clips_during_sync = sum(1 for a, b in windows if a < span.end and b > span.start)
        figures.dropouts, figures.silent_gaps = find_dropouts(rec, windows)
        figures.max_callback_gap_ms = _max_gap_ms(mixer.stamps, span.start, span.end)
        figures.max_callback_gap_before_ms = _max_gap_ms(mixer.stamps, t_lift, span.start)
    finally:
        if rec is not None:
            rec.stop()
        booth.request_stop()  # still off the hook: the staged random-byte set never activates
        thread.join(timeout=15)
        factory.close()
    if thread.is_alive():
        raise BenchError("the in-process booth did not stop within 15 s")
    return figures


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.sync", description=__doc__.split("\n")[0])
    p.add_argument("--size-mb", type=float, default=500.0, help="throughput set (500)")
    p.add_argument("--clips", type=int, default=200, help="clips in the no-op set (200)")
    p.add_argument("--noop-runs", type=int, default=10, help="no-op syncs to time (10)")
    p.add_argument(
        "--playback-mb", type=float, default=150.0, help="set synced during playback (150)"
    )
    p.add_argument("--no-audio", action="store_true", help="skip figure 4 (PulseAudio)")
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
    playback: PlaybackFigures | None = None
    with Nginx(admin.repo.folder, tmp / "nginx") as nginx:
        small = measure_small(args, admin, nginx, tmp)
        report_small(small)
        size_mb = max(args.size_mb, 0 if args.no_audio else args.playback_mb)
        progress(f"writing {size_mb:g} MB of random targets")
        bulk = make_bulk(admin, size_mb, args.seed)
        count = max(1, round(args.size_mb / min(BULK_FILE_MB, args.size_mb)))
        throughput = measure_throughput(admin, nginx, bulk[:count], tmp)
        report_throughput(throughput)
        if not args.no_audio:
            count = max(1, round(args.playback_mb / min(BULK_FILE_MB, size_mb)))
            progress("starting PulseAudio")
            with PulseSink(tmp) as sink:
                if "sounddevice" in sys.modules:
                    raise BenchError("sounddevice was imported before ALSA was pointed at the sink")
                os.environ.update(sink.env)
                playback = measure_playback(args, admin, nginx, sink, bulk[:count], tmp)
            report_playback(playback)
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
        f"  booth time: downloads {t.download_s:.2f} s, commit (fsync, rename) "
        f"{t.commit_s:.2f} s, staging {t.stage_s:.2f} s, the rest (metadata, hash checks) "
        f"{other:.2f} s; {t.sync.requests} requests"
    )


def report_playback(p: PlaybackFigures) -> None:
    span = p.span
    assert span is not None
    sync_s = span.end - span.start
    print(
        f"sync during playback: {p.files} files, {span.downloaded_bytes / MB:.0f} MB in "
        f"{sync_s:.2f} s ({span.downloaded_bytes / MB / sync_s:.0f} MB/s) on the booth's sync "
        f"thread while {p.clips_during_sync} clips played (publish -> staged "
        f"{p.publish_to_staged_s:.1f} s; blocksize {p.blocksize}, PortAudio latency "
        f"{p.portaudio_latency_ms:.1f} ms)"
    )
    print(
        f"underruns: {p.underruns} in {p.callbacks} callbacks over the lift, "
        f"{p.underruns_during_sync} in {p.callbacks_during_sync} during the sync; "
        f"dropouts at the sink: {len(p.dropouts)}"
        + (f" ({', '.join(f'{d:.1f}' for d in p.dropouts[:10])} ms)" if p.dropouts else "")
        + f" in {p.clips_started} clips (goal 0)"
    )
    gap = "n/a" if p.max_callback_gap_ms is None else f"{p.max_callback_gap_ms:.1f} ms"
    before = p.max_callback_gap_before_ms
    print(
        f"  longest gap between audio callbacks: {gap} during the sync, "
        f"{'n/a' if before is None else f'{before:.1f} ms'} while playing before it"
    )


def figures_json(
    s: SmallFigures, t: ThroughputFigures, p: PlaybackFigures | None
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
        "throughput_vs_curl": _fmt(ratio, 3),
    }
    meets = {
        "noop_requests": noop_requests <= GOALS["noop_requests"],
        "new_clip_extra_bytes": extra <= GOALS["new_clip_extra_bytes"],
        "throughput_vs_curl": ratio >= GOALS["throughput_vs_curl"],
    }
    if p is not None and p.span is not None:
        sync_s = p.span.end - p.span.start
        out |= {
            "playback_sync_files": p.files,
            "playback_sync_bytes": p.span.downloaded_bytes,
            "playback_sync_s": _fmt(sync_s, 3),
            "playback_sync_mb_s": _fmt(p.span.downloaded_bytes / MB / sync_s),
            "playback_publish_to_staged_s": _fmt(p.publish_to_staged_s),
            "playback_clips_started": p.clips_started,
            "playback_clips_during_sync": p.clips_during_sync,
            "playback_underruns": p.underruns,
            "playback_callbacks": p.callbacks,
            "playback_underruns_during_sync": p.underruns_during_sync,
            "playback_callbacks_during_sync": p.callbacks_during_sync,
            "playback_dropouts": len(p.dropouts),
            "playback_dropout_ms": [round(d, 1) for d in p.dropouts],
            "playback_silent_gaps": p.silent_gaps,
            "playback_max_callback_gap_ms": _fmt(p.max_callback_gap_ms),
            "playback_max_callback_gap_before_ms": _fmt(p.max_callback_gap_before_ms),
            "playback_failed_syncs": p.failed_syncs,
            "blocksize_frames": p.blocksize,
            "portaudio_latency_ms": _fmt(p.portaudio_latency_ms),
        }
        meets |= {
            "playback_underruns": p.underruns <= GOALS["playback_underruns"],
            "playback_dropouts": len(p.dropouts) <= GOALS["playback_dropouts"],
        }
    out |= {"goals": GOALS, "meets_goals": meets}
    return out


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # run the finally blocks: stop nginx, PulseAudio, the booth


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="kiosk-bench-sync-") as tmp:
            figures = run(args, Path(tmp))
    except BenchError as e:
        print(f"bench.sync: {e}", file=sys.stderr)
        print(json.dumps({"error": str(e)}))
        return 1
    except KeyboardInterrupt:
        print("bench.sync: interrupted", file=sys.stderr)
        return 130
    figures["bench_seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
