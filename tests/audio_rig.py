"""Audio test rig: let a child process play through PortAudio/ALSA "default", read it back.

Two sinks, both driven by `ALSA_CONFIG_PATH` in the child's environment:

* `AlsaFileCapture` - ALSA `file` plugin over `null`. Exact samples, no clock: for content
  checks only.
* `PulseSink` - a private PulseAudio daemon with a clocked null sink; `record()` taps its
  monitor with `parec` and timestamps every read, for timing checks.

Both ALSA configs are self-contained on purpose: including /usr/share/alsa/alsa.conf would pull
in ~/.asoundrc, /etc/asound.conf and the conf.d pulse hook, any of which can redirect "default".
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
import weakref
from bisect import bisect_right
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt

from kiosk.audio.virtual import HW_DEFS as _HW_DEFS
from kiosk.audio.virtual import RATE, VirtualReceiver, stop_process
from kiosk.audio.virtual import alsa_string as _alsa_string
from kiosk.audio.virtual import pdeathsig_prefix as _pdeathsig_prefix

__all__ = ["RATE", "AlsaFileCapture", "PulseSink", "Recorder", "stop_process"]

FloatArray = npt.NDArray[np.float32]


# --------------------------------------------------------------------------- analysis helpers


def _as_float64(samples: npt.ArrayLike) -> npt.NDArray[np.float64]:
    return np.asarray(samples, dtype=np.float64).reshape(-1)


def first_nonsilent(samples: npt.ArrayLike, threshold: float = 1e-3) -> int | None:
    """Index of the first sample with |x| > threshold, or None if all are silent."""
    loud = np.flatnonzero(np.abs(_as_float64(samples)) > threshold)
    return int(loud[0]) if loud.size else None


def last_nonsilent(samples: npt.ArrayLike, threshold: float = 1e-3) -> int | None:
    """Index of the last sample with |x| > threshold, or None if all are silent."""
    loud = np.flatnonzero(np.abs(_as_float64(samples)) > threshold)
    return int(loud[-1]) if loud.size else None


def best_lag(haystack: npt.ArrayLike, needle: npt.ArrayLike) -> tuple[int, float]:
    """Where `needle` best matches inside `haystack`: (lag, normalized correlation 0..1).

    The score is the Pearson-style cosine similarity between `needle` and the haystack window
    at `lag`, so it ignores gain: 1.0 means the same waveform at any volume.
    """
    h = _as_float64(haystack)
    n = _as_float64(needle)
    m = n.size
    if m == 0 or h.size < m:
        raise ValueError(f"needle ({m} samples) must be non-empty and fit in haystack ({h.size})")
    needle_energy = float(np.dot(n, n))
    if needle_energy == 0.0:
        raise ValueError("needle is all zeros")
    size = 1 << int(h.size + m - 1).bit_length()
    # Cross-correlation via FFT: corr[k] = sum(h[k + j] * n[j]).
    spec = np.fft.rfft(h, size) * np.conj(np.fft.rfft(n, size))
    corr = np.fft.irfft(spec, size)[: h.size - m + 1]
    csum = np.concatenate(([0.0], np.cumsum(h * h)))
    window_energy = csum[m:] - csum[: h.size - m + 1]
    # Windows of near-silence would divide FFT round-off noise by ~0; score them 0.
    valid = window_energy > needle_energy * 1e-10
    score = np.zeros_like(corr)
    score[valid] = corr[valid] / np.sqrt(window_energy[valid] * needle_energy)
    lag = int(np.argmax(score))
    return lag, float(np.clip(score[lag], 0.0, 1.0))


def span_after(samples: npt.ArrayLike, lag: int, t0: float, t1: float) -> FloatArray:
    """`samples` from `t0` to `t1` seconds after sample `lag`, in the sink's own time.

    A paced sink plays sample `lag + n` exactly n / RATE after sample `lag`, so windows counted
    in samples from a located waveform stay right even when the recorder's reads stall and its
    time stamps come late (`Recorder.between` trusts those stamps).
    """
    x = np.asarray(samples, dtype=np.float32)
    begin = max(0, lag + round(t0 * RATE))
    end = max(begin, lag + round(t1 * RATE))
    if end > x.size:
        raise ValueError(f"window ends at sample {end}, past the {x.size} recorded")
    return x[begin:end]


def max_step(samples: npt.ArrayLike) -> float:
    """Largest absolute difference between neighbouring samples (clicks show up here)."""
    x = _as_float64(samples)
    return float(np.max(np.abs(np.diff(x)))) if x.size > 1 else 0.0


# --------------------------------------------------------------------------- ALSA file capture


class AlsaFileCapture:
    """ALSA "default" = plug -> file plugin -> null PCM; the file holds exactly what was played.

    Captured format: raw FLOAT_LE, 48000 Hz, 1 channel. `plug` converts whatever the child
    opens (rate with the built-in linear converter, other formats, channels mixed down by the
    default route table).

    There is no clock: the null PCM accepts data as fast as it is written, so an open stream
    produces silence at ~100 MB/s and timing means nothing. Use it for content checks with
    children that close their stream; use `PulseSink` for a daemon that keeps one open.

    Every stream the child opens writes its own file (`truncate false` makes alsa-lib add a
    `.0001`, `.0002`... suffix instead of overwriting), so `streams()` lists them in open order.
    """

    def __init__(self, tmp_dir: Path) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="alsa-file-", dir=tmp_dir))
        self.rate = RATE
        self.raw_path = self.dir / "capture.f32"
        self.config_path = self.dir / "asound.conf"
        # PortAudio 19.6 asserts (SIGABRT) in BuildDeviceList unless a PCM named "default"
        # (or "dmix") exists, so the config must define one.
        self.config_path.write_text(
            f"""\
pcm.!default {{
    type plug
    rate_converter "linear"
    slave {{
        pcm {{
            type file
            slave.pcm {{ type null }}
            file {_alsa_string(str(self.raw_path))}
            format "raw"
            truncate false
        }}
        format FLOAT_LE
        rate {RATE}
        channels 1
    }}
}}
{_HW_DEFS}"""
        )
        self.env: dict[str, str] = {"ALSA_CONFIG_PATH": str(self.config_path)}

    def stream_paths(self) -> list[Path]:
        """One raw file per stream opened so far, oldest first."""
        paths = [p for p in self.dir.glob(self.raw_path.name + "*") if p.is_file()]

        def order(p: Path) -> int:
            suffix = p.name[len(self.raw_path.name) :]
            return int(suffix[1:]) if suffix else 0

        return sorted(paths, key=order)

    def bytes_written(self) -> int:
        """Total bytes written so far (to watch a runaway open stream)."""
        return sum(p.stat().st_size for p in self.stream_paths())

    @staticmethod
    def _read(path: Path) -> FloatArray:
        data = path.read_bytes()
        # A stream may still be writing: drop a trailing partial sample.
        return np.frombuffer(data[: len(data) // 4 * 4], dtype="<f4").astype(np.float32)

    def streams(self) -> list[FloatArray]:
        """Samples of each stream separately (mono float32)."""
        return [self._read(p) for p in self.stream_paths()]

    def samples(self) -> FloatArray:
        """All streams concatenated in open order (mono float32, -1..1)."""
        parts = self.streams()
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


# --------------------------------------------------------------------------- PulseAudio sink


class Recorder:
    """`parec` on the sink monitor (float32le, 48 kHz, mono), read by a thread that stamps
    every chunk with `time.monotonic()` as it arrives.

    Timing (`time_of_sample`): the read stamp of the chunk holding sample i is a hard upper
    bound on when i reached the monitor. The null sink renders at most its configured latency
    ahead of its clock, and that latency is at most what parec asks for (`latency_msec`), so
    stamp + latency_msec is an upper bound on the sink's own playback time for the sample
    (what a DAC would do). Measured here it is 0.1-2 ms late; it is only ever
    later under load (a starved reader thread stamps late), never early.

    Why not `started_monotonic + index / rate`: parec needs ~50-130 ms to deliver its first
    sample, and a null sink that sat idle may have pre-rendered up to 2 s it must wait out,
    so that estimate runs early - i.e. under-reports latency - by a variable amount.
    """

    def __init__(self, sink: PulseSink, path: Path, latency_msec: int = 2) -> None:
        self.rate = RATE
        self.path = path
        self.latency_msec = latency_msec
        self.started_monotonic = 0.0
        self._sink = sink
        self._lock = threading.Lock()
        self._chunks: list[bytes] = []
        self._nbytes = 0
        self._eof = False
        self._ends: list[int] = []  # cumulative sample count after each read
        self._stamps: list[float] = []  # time.monotonic() right after each read
        self._data_event = threading.Condition(self._lock)
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._stderr_path = path.with_suffix(".parec.log")

    def start(self, timeout: float = 5.0) -> Recorder:
        """Start parec and return once samples are flowing."""
        cmd = [
            *_pdeathsig_prefix(),
            "parec",
            f"--device={self._sink.sink_name}.monitor",
            "--raw",
            "--format=float32le",
            f"--rate={RATE}",
            "--channels=1",
            f"--latency-msec={self.latency_msec}",
            "--client-name=audio-rig",
        ]
        with self._stderr_path.open("wb") as err:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                env=self._sink.env,
            )
        self.started_monotonic = time.monotonic()
        # Backstop for a forgotten stop(): reap parec at garbage collection or interpreter exit.
        weakref.finalize(self, stop_process, self._proc)
        self._thread = threading.Thread(target=self._read_loop, name="audio-rig-parec", daemon=True)
        self._thread.start()
        try:
            with self._lock:
                if not self._data_event.wait_for(
                    lambda: self._nbytes > 0 or self._eof, timeout=timeout
                ):
                    raise RuntimeError(f"parec delivered nothing in {timeout} s: {self._errors()}")
                if self._nbytes == 0:
                    raise RuntimeError(f"parec exited before recording: {self._errors()}")
        except BaseException:
            self.stop()
            raise
        return self

    def _read_loop(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        with self.path.open("wb") as out:
            while True:
                try:
                    data = os.read(fd, 1 << 16)
                except OSError:
                    data = b""
                stamp = time.monotonic()
                if not data:
                    break
                out.write(data)
                with self._lock:
                    self._chunks.append(data)
                    self._nbytes += len(data)
                    self._ends.append(self._nbytes // 4)
                    self._stamps.append(stamp)
                    self._data_event.notify_all()
        with self._lock:
            self._eof = True
            self._data_event.notify_all()

    def _errors(self) -> str:
        try:
            return self._stderr_path.read_text(errors="replace").strip() or "(no stderr)"
        except OSError:
            return "(no stderr)"

    def stop(self) -> None:
        """Stop parec and the reader; idempotent. Samples stay available."""
        if self._proc is not None:
            stop_process(self._proc)
            if self._thread is not None:
                self._thread.join(timeout=5.0)
            if self._proc.stdout is not None:
                self._proc.stdout.close()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def sample_count(self) -> int:
        with self._lock:
            return self._nbytes // 4

    def samples(self) -> FloatArray:
        """Everything recorded so far (mono float32)."""
        with self._lock:
            data = b"".join(self._chunks)
            self._chunks = [data]
        return np.frombuffer(data[: len(data) // 4 * 4], dtype="<f4").astype(np.float32)

    def sync(self, settle: float = 0.02, timeout: float = 2.0) -> None:
        """Wait until whatever reached the monitor before this call has been read.

        parec hands data over every `latency_msec`; `settle` (default 20 ms) is the margin.
        """
        deadline = time.monotonic() + settle
        with self._lock:
            ok = self._data_event.wait_for(
                lambda: (bool(self._stamps) and self._stamps[-1] >= deadline) or self._eof,
                timeout=settle + timeout,
            )
            if not ok or not self._stamps or self._stamps[-1] < deadline:
                raise RuntimeError(f"recorder stalled (parec running={self.running})")

    def between(self, t0: float, t1: float) -> FloatArray:
        """Recorded samples whose play time lies in [t0, t1] (monotonic seconds; 5 ms steps)."""
        samples = self.samples()
        idx = [i for i in range(0, len(samples), 240) if t0 <= self.time_of_sample(i) <= t1]
        return samples[idx[0] : idx[-1] + 240] if idx else samples[:0]

    def time_of_sample(self, index: int) -> float:
        """Upper-bound estimate of the time.monotonic() at which sample `index` played."""
        with self._lock:
            k = bisect_right(self._ends, index)
            if index < 0 or k >= len(self._stamps):
                raise IndexError(f"sample {index} not recorded yet ({self._nbytes // 4} so far)")
            return self._stamps[k] + self.latency_msec / 1000.0

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class PulseSink(VirtualReceiver):
    """The product's virtual receiver (`kiosk.audio.virtual`) plus timestamped recorders.

    `env` points a child's ALSA "default" (PortAudio's device "default") at the sink.
    Start failures raise `AudioError`, an OSError.
    """

    def __init__(
        self, tmp_dir: Path, sink_name: str = "booth", startup_timeout: float = 10.0
    ) -> None:
        super().__init__(tmp_dir, sink_name, startup_timeout)
        self._recorders: list[Recorder] = []

    def record(self, latency_msec: int = 2) -> Recorder:
        """Start recording the sink monitor; returns once samples flow. Stop it or use `with`."""
        if not self.running:
            raise RuntimeError(f"PulseSink is not running:\n{self.log()}")
        path = self.dir / f"rec-{len(self._recorders)}.f32"
        recorder = Recorder(self, path, latency_msec)
        self._recorders.append(recorder)
        return recorder.start()

    def stop(self) -> None:
        """Stop all recorders and the daemon; idempotent. `start()` may start it again."""
        try:
            for recorder in self._recorders:
                recorder.stop()
        finally:
            super().stop()

    def __enter__(self) -> PulseSink:
        self.start()
        return self
