"""Bytes the booth writes to its SD card, per idle hour and per 100 lifts: `python -m bench.sdcard`.

The booth runs as `kiosk run` builds it (durable event outbox, content sync from a signed
repository on a local nginx, every `--sync-interval-s` seconds) with a pretend handset
(`kiosk simulate --headless`: the same booth, hook commands on stdin), audio into a private
PulseAudio null sink. Its state directory is a fresh ext4 file system on a loop device, mounted
noatime like a Pi's root. After the first sync has landed, three counters are read around an
idle window and around the lifts:

- device: sectors written to that loop device (/sys/block/loopN/stat), after a sync(2) at each
  end: what the card would see, including ext4's journal and metadata;
- process: write_bytes minus cancelled_write_bytes from /proc/PID/io: the page-cache bytes the
  daemon dirtied and did not delete before writeback (file data only, whole pages, on any file
  system, /tmp included);
- log: bytes of log lines the daemon wrote to stderr (journald's input under systemd; journald
  adds its own per-entry overhead and is capped by the installer's SystemMaxUse).

The idle hour is extrapolated linearly from the idle window. The sync interval defaults to 10 s
(30 times the shipped 300 s), so the idle figure is an upper bound. Without root or loop devices
only the process and log counters are reported. Progress on stderr; last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.common import BenchError, EventLog, run_main
from tests.audio_rig import PulseSink
from tests.booth_runner import write_config
from tests.content import Publisher
from tests.nginx import Nginx

SECTOR = 512
SET = "lobby"


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class LoopFs:
    """A fresh ext4 file system in an image file, mounted at `mountpoint` (root only)."""

    def __init__(self, image: Path, mountpoint: Path, size_mb: int = 256) -> None:
        self.image, self.mountpoint, self.size_mb = image, mountpoint, size_mb
        self.device = ""

    def __enter__(self) -> LoopFs:
        with self.image.open("wb") as f:
            f.truncate(self.size_mb << 20)
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mkfs.ext4", "-q", "-F", str(self.image)], check=True)
        subprocess.run(
            ["mount", "-o", "loop,noatime", str(self.image), str(self.mountpoint)], check=True
        )
        self.device = subprocess.run(
            ["findmnt", "-n", "-o", "SOURCE", str(self.mountpoint)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return self

    def sectors_written(self) -> int:
        stat = Path(f"/sys/block/{Path(self.device).name}/stat").read_text().split()
        return int(stat[6])

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        subprocess.run(["umount", str(self.mountpoint)], check=False)


def loop_fs_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "not root"
    missing = [t for t in ("mkfs.ext4", "mount", "findmnt", "losetup") if shutil.which(t) is None]
    if missing:
        return f"missing {', '.join(missing)}"
    probe = subprocess.run(["losetup", "-f"], capture_output=True, text=True, check=False)
    return None if probe.returncode == 0 else f"no loop device: {probe.stderr.strip()}"


class Daemon:
    """`kiosk simulate --headless`: JSON events into `events`, stderr bytes counted."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.events = EventLog()
        self.log_bytes = 0
        self.log_lines = 0
        self.log: list[str] = []  # every line: a few hundred at most
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "simulate", "--headless", "--config", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **env, "GPIOZERO_PIN_FACTORY": "mock"},
        )
        self._threads = [
            threading.Thread(target=self._read_events, daemon=True),
            threading.Thread(target=self._read_log, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read_events(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.publish(json.loads(line))

    def _read_log(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log_bytes += len(line)
            self.log_lines += 1
            self.log.append(line.decode(errors="replace"))

    def log_tail(self) -> str:
        return "".join(self.log[-20:])

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        self.proc.stdin.flush()

    def write_bytes(self) -> int | None:
        """write_bytes - cancelled_write_bytes of /proc/PID/io (None: not accounted here).

        A temp file deleted before writeback (python-tuf downloads each metadata file into one
        in /tmp) is counted in write_bytes and again in cancelled_write_bytes: it never
        reaches the card.
        """
        try:
            text = Path(f"/proc/{self.proc.pid}/io").read_text()
        except OSError:
            return None
        io = {k: int(v) for k, _, v in (ln.partition(": ") for ln in text.splitlines()) if v}
        if "write_bytes" not in io:
            return None
        return io["write_bytes"] - io.get("cancelled_write_bytes", 0)

    def stop(self) -> int:
        try:
            self.send("quit")
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            return self.proc.wait(20)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            return self.proc.wait(10)
        finally:
            for thread in self._threads:
                thread.join(5)


@dataclass(frozen=True)
class Counters:
    device_bytes: int | None
    process_bytes: int | None
    log_bytes: int
    log_lines: int


def read_counters(daemon: Daemon, fs: LoopFs | None) -> Counters:
    os.sync()  # the device counter then holds everything written so far, journal included
    return Counters(
        fs.sectors_written() * SECTOR if fs else None,
        daemon.write_bytes(),
        daemon.log_bytes,
        daemon.log_lines,
    )


def scaled(a: Counters, b: Counters, factor: float) -> dict[str, float | None]:
    def delta(x: int | None, y: int | None) -> float | None:
        return None if x is None or y is None else round((y - x) * factor)

    return {
        "device_bytes": delta(a.device_bytes, b.device_bytes),
        "process_bytes": delta(a.process_bytes, b.process_bytes),
        "log_bytes": delta(a.log_bytes, b.log_bytes),
        "log_lines": delta(a.log_lines, b.log_lines),
    }


def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    progress("publishing a signed set of 4 short clips")
    publisher = Publisher(tmp / "admin")
    publisher.publish_clips(SET, {f"c{i}.wav": args.clip_s for i in range(4)})
    reason = loop_fs_unavailable()
    if reason:
        progress(f"no loop-device ext4 ({reason}): reporting process and log bytes only")
    with ExitStack() as stack:
        nginx = stack.enter_context(Nginx(publisher.repo.folder, tmp / "nginx"))
        sink = stack.enter_context(PulseSink(tmp))
        fs = None if reason else stack.enter_context(LoopFs(tmp / "state.img", tmp / "state"))
        return run_booth(args, tmp, nginx, publisher, sink, fs)


def run_booth(
    args: argparse.Namespace,
    tmp: Path,
    nginx: Nginx,
    publisher: Publisher,
    sink: PulseSink,
    fs: LoopFs | None,
) -> dict[str, Any]:
    state = tmp / "state"
    config = write_config(
        tmp,
        state / "sets" / "current",
        sync__url=nginx.url,
        sync__root=publisher.root_json,
        sync__set=SET,
        sync__interval=args.sync_interval_s,
    )
    # As under systemd (TMPDIR=/run/kiosk in the unit): temp files in RAM.
    ram = Path("/dev/shm") if Path("/dev/shm").is_dir() else tmp
    tmpdir = Path(tempfile.mkdtemp(prefix="kiosk-bench-tmp-", dir=ram))
    try:
        return measure_booth(args, config, {**sink.env, "TMPDIR": str(tmpdir)}, nginx, fs)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def measure_booth(
    args: argparse.Namespace,
    config: Path,
    env: dict[str, str],
    nginx: Nginx,
    fs: LoopFs | None,
) -> dict[str, Any]:
    daemon = Daemon(config, env)
    try:
        daemon.events.wait("sync", 1, timeout=60)
        time.sleep(args.settle_s)  # the first set's files and fsyncs land before we count
        start = read_counters(daemon, fs)
        requests_before = len(nginx.requests_logged())
        progress(f"idle for {args.idle_s:g} s (sync every {args.sync_interval_s:g} s)")
        time.sleep(args.idle_s)
        idle_end = read_counters(daemon, fs)
        for line in daemon.log[start.log_lines : idle_end.log_lines]:
            progress(f"  logged while idle: {line.rstrip()}")
        syncs = sum("timestamp.json" in r for r in nginx.requests_logged()[requests_before:])
        progress(f"{args.lifts} lifts, each held {args.hold_s:g} s")
        for i in range(1, args.lifts + 1):
            daemon.send("lift")
            daemon.events.wait("clip_start", i, timeout=10)
            time.sleep(args.hold_s)
            daemon.send("hangup")
            daemon.events.wait("hangup", i, timeout=10)
            time.sleep(args.gap_s)
        time.sleep(args.settle_s)
        lifts_end = read_counters(daemon, fs)
    except BenchError as e:
        raise BenchError(f"{e}; daemon log: {daemon.log_tail()}") from e
    finally:
        code = daemon.stop()
    if code != 0:
        raise BenchError(f"the booth exited {code}: {daemon.log_tail()}")
    idle = scaled(start, idle_end, 3600 / args.idle_s)
    lifts = scaled(idle_end, lifts_end, 100 / args.lifts)
    return {
        "idle_hour": idle,
        "per_100_lifts": lifts,
        "idle_s": args.idle_s,
        "lifts": args.lifts,
        "sync_interval_s": args.sync_interval_s,
        "syncs_in_idle_window": syncs,
        "device": "ext4 on a loop device, noatime" if fs else None,
    }


def show(figures: dict[str, Any]) -> None:
    def line(label: str, values: dict[str, float | None]) -> None:
        dev, proc = values["device_bytes"], values["process_bytes"]
        dev_text = "n/a" if dev is None else f"{dev / 1e3:,.1f} kB"
        proc_text = "n/a" if proc is None else f"{proc / 1e3:,.1f} kB"
        print(
            f"{label}: device {dev_text}, daemon's file writes {proc_text}, "
            f"log {(values['log_bytes'] or 0) / 1e3:,.1f} kB ({values['log_lines'] or 0:.0f} lines)"
        )

    line("per idle hour", figures["idle_hour"])
    line("per 100 lifts", figures["per_100_lifts"])
    print(
        f"(idle window {figures['idle_s']:g} s with {figures['syncs_in_idle_window']} syncs, "
        f"one every {figures['sync_interval_s']:g} s; extrapolated to an hour)"
    )


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.sdcard", description=__doc__.split("\n")[0])
    p.add_argument("--idle-s", type=float, default=60.0, help="idle window (default 60)")
    p.add_argument("--lifts", type=int, default=100, help="lifts to count (default 100)")
    p.add_argument("--hold-s", type=float, default=0.5, help="each lift's hold (default 0.5)")
    p.add_argument("--gap-s", type=float, default=0.2, help="on the hook between lifts")
    p.add_argument("--clip-s", type=float, default=1.0, help="length of each clip")
    p.add_argument("--sync-interval-s", type=float, default=10.0, help="sync.interval")
    p.add_argument("--settle-s", type=float, default=3.0, help="wait before each count")
    args = p.parse_args(argv)
    if args.idle_s <= 0 or args.lifts < 1 or args.sync_interval_s < 1:
        p.error("--idle-s must be > 0, --lifts >= 1, --sync-interval-s >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)

    def run(tmp: Path) -> dict[str, Any]:
        figures = measure(args, tmp)
        show(figures)
        return figures

    return run_main("bench.sdcard", run)


if __name__ == "__main__":
    sys.exit(main())
