"""Real SIP peers on 127.0.0.1 for the live-call tests and bench: sipp as the PBX (scenarios in
tests/sipp/), a second baresip as an auto-answering peer, and the voice they send."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

from tests import clipmaker
from tests.audio_rig import RATE, stop_process
from tests.g711 import alaw_encode, to_int16, ulaw_encode

SCENARIOS = Path(__file__).resolve().parent / "sipp"
VOICE_RATE = 8000


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port that is free for both UDP and TCP on 127.0.0.1 right now."""
    while True:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        other = socket.SOCK_STREAM if kind == socket.SOCK_DGRAM else socket.SOCK_DGRAM
        with socket.socket(socket.AF_INET, other) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


def voice(seconds: float, seed: int = 7) -> npt.NDArray[np.float32]:
    """The PBX's test signal at 8 kHz: band-limited noise, so a correlation finds one lag only."""
    samples: npt.NDArray[np.float32] = clipmaker.voice(seed, seconds, VOICE_RATE)
    return samples


def at_device_rate(samples: npt.ArrayLike) -> npt.NDArray[np.float32]:
    return np.asarray(soxr.resample(np.asarray(samples, np.float32), VOICE_RATE, RATE), np.float32)


def write_g711(folder: Path, samples: npt.ArrayLike) -> None:
    """voice.ulaw and voice.alaw, the raw files the sipp scenarios stream."""
    pcm = to_int16(samples)
    (folder / "voice.ulaw").write_bytes(ulaw_encode(pcm).tobytes())
    (folder / "voice.alaw").write_bytes(alaw_encode(pcm).tobytes())


class Sipp:
    """One sipp UAS run (`-m 1`) under `timeout`, cwd `folder` (where voice.* are)."""

    def __init__(
        self, scenario: str, folder: Path, port: int, timeout_s: float = 30, *args: str
    ) -> None:
        """A UAS (the PBX) on `port`; for a UAC scenario pass the target as the last arg."""
        if shutil.which("sipp") is None:
            raise RuntimeError("sipp (Debian sip-tester) is required")
        self.port = port
        self.uri = f"sip:spy@127.0.0.1:{port}"
        self.log = folder / f"sipp-{scenario}.log"
        cmd = [
            "timeout",
            str(timeout_s),
            "sipp",
            "-sf",
            str(SCENARIOS / scenario),
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "-mi",
            "127.0.0.1",
            "-m",
            "1",
            "-nostdin",
            "-trace_err",
            "-error_file",
            str(self.log),
            *args,
        ]
        self.proc = subprocess.Popen(
            cmd, cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )
        if scenario.startswith("uas"):
            self.wait_ready()

    def wait_ready(self, timeout: float = 10) -> Sipp:
        """Return once sipp listens on its port (a dial before that would be lost)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                try:
                    s.bind(("127.0.0.1", self.port))
                except OSError:
                    return self
            time.sleep(0.02)
        raise RuntimeError(f"sipp is not listening on {self.port}: {self.errors()}")

    def wait(self, timeout: float = 10) -> int:
        """sipp's exit code: 0 when the scenario ran to its end."""
        return self.proc.wait(timeout)

    def errors(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        stop_process(self.proc)

    def __enter__(self) -> Sipp:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class BaresipPeer:
    """A second baresip on 127.0.0.1 that answers every call and plays `wav` (then hangs up)."""

    def __init__(self, folder: Path, wav_samples: npt.ArrayLike, port: int) -> None:
        self.dir = folder / "peer"
        self.dir.mkdir(parents=True)
        self.port = port  # and port + 1 (TLS): take it from sip_port()
        self.uri = f"sip:peer@127.0.0.1:{port}"
        wav = self.dir / "voice.wav"
        sf.write(wav, np.asarray(wav_samples), VOICE_RATE, subtype="PCM_16")
        (self.dir / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen 127.0.0.1:{port}",
                    "net_interface 127.0.0.1",
                    f"audio_source aufile,{wav}",
                    "audio_player aubridge,none",
                    "audio_alert aubridge,none",
                    "ausrc_srate 8000",
                    "ringback_disabled yes",
                    "statmode_default off",
                    "module_path /usr/lib/baresip/modules",
                    "module g711.so",
                    "module aufile.so",
                    "module aubridge.so",
                    "module_tmp account.so",
                    "module_app menu.so",
                ]
            )
            + "\n"
        )
        (self.dir / "accounts").write_text(
            f"<sip:peer@127.0.0.1:{port}>;regint=0;answermode=auto\n"
        )
        self.log = self.dir / "baresip.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                ["baresip", "-f", str(self.dir)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        stop_process(self.proc)

    def __enter__(self) -> BaresipPeer:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def sip_port() -> int:
    """A free SIP port whose next port is free too: baresip listens for SIP over TLS there."""
    while True:
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


def live_overrides(uri: str, **extra: Any) -> dict[str, Any]:
    """`write_config` keyword overrides for a booth dialing `uri` on fresh local ports."""
    sip = sip_port()
    ctrl = free_port(socket.SOCK_STREAM)
    while ctrl in (sip, sip + 1):
        ctrl = free_port(socket.SOCK_STREAM)
    return {
        "live__enabled": "true",
        "live__monitor_uri": uri,
        "live__sip_port": sip,
        "live__ctrl_port": ctrl,
        **{f"live__{k}": v for k, v in extra.items()},
    }
