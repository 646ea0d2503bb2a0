"""A virtual receiver: a private PulseAudio daemon with a clocked null sink.

It stands in for the handset's sound card where there is none (a server, a VM, CI): the
simulator plays into it and records what the receiver would have played to a WAV file, and
the tests tap its monitor. `env` points a process's ALSA "default" (PortAudio's device
"default") at the sink through the ALSA pulse plugin.

Daemon choices (each found necessary):
* Root is fine without `--system`: it only logs "not intended to be run as root".
* HOME / XDG_* / PULSE_* point into the receiver's folder and a cookie is pre-made there, so
  nothing touches the real home or a user's session daemon; client autospawn is off.
* `module-suspend-on-idle timeout=0`: an idle null sink runs at its 2 s maximum latency and
  renders that far ahead; a new recorder would then get nothing for up to 2 s.
* `norewinds=1`: with rewinds, monitor data is held back (and may be rewritten) by the rewind
  window; without them what reaches the monitor is final.

The ALSA config is self-contained on purpose: including /usr/share/alsa/alsa.conf would pull in
~/.asoundrc, /etc/asound.conf and the conf.d pulse hook, any of which can redirect "default".
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any

from kiosk.errors import AudioError

RATE = 48000
"""The sink's sample rate (Hz); it is mono float32."""

# Minimal `hw` definitions so PortAudio can enumerate real cards (e.g. on the Pi) without
# alsa-lib printing "Invalid CTL hw:0" / "Unknown PCM hw:0,0" for each one. PortAudio ignores
# the `hw` node itself when it lists plugin PCMs, so the only named device is "default".
HW_DEFS = """\
ctl.hw {
    @args [ CARD ]
    @args.CARD { type string default "0" }
    type hw
    card $CARD
}
pcm.hw {
    @args [ CARD DEV SUBDEV ]
    @args.CARD { type string default "0" }
    @args.DEV { type integer default 0 }
    @args.SUBDEV { type integer default -1 }
    type hw
    card $CARD
    device $DEV
    subdevice $SUBDEV
}
"""


def alsa_string(value: str) -> str:
    """Quote `value` for an ALSA config file; refuse characters it would interpret."""
    # `%` is expanded by the file plugin (%r, %c...), and quoting rules for the rest are murky.
    if any(c in value for c in '"\\%$\n'):
        raise ValueError(f"unsupported character in ALSA config string: {value!r}")
    return f'"{value}"'


def stop_process(proc: subprocess.Popen[Any], timeout: float = 3.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; always reaps the process."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait()


def pdeathsig_prefix() -> list[str]:
    """Kill a helper if its parent dies without cleaning up (SIGKILL, crash).

    Caveat of PR_SET_PDEATHSIG: it fires when the *thread* that started the helper exits, so
    start helpers from a thread that outlives them (normally the main one).
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []


class VirtualReceiver:
    """Private PulseAudio daemon with a 48 kHz mono float32 null sink named `sink_name`.

    The ALSA pulse plugin has no latency knobs: its PulseAudio buffer is the ALSA buffer the
    client asks for (tlength = buffer, minreq = period), i.e. PortAudio's latency.
    """

    def __init__(
        self, parent: Path, sink_name: str = "booth", startup_timeout: float = 10.0
    ) -> None:
        self.sink_name = sink_name
        self.rate = RATE
        self.startup_timeout = startup_timeout
        parent.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="pulse-", dir=parent))
        socket_path = self.dir / "native"
        if len(str(socket_path)) > 100:  # sun_path is 108 bytes
            short_dir = Path(tempfile.mkdtemp(prefix="kiosk-pa-"))
            weakref.finalize(self, shutil.rmtree, short_dir, True)
            socket_path = short_dir / "native"
        self.socket_path = socket_path
        self.server = f"unix:{socket_path}"
        self.log_path = self.dir / "pulseaudio.log"
        self.alsa_config_path = self.dir / "asound.conf"
        self.cookie_path = self.dir / "cookie"
        client_conf = self.dir / "client.conf"
        runtime = self.dir / "runtime"
        runtime.mkdir(mode=0o700)
        self.cookie_path.write_bytes(os.urandom(256))
        self.cookie_path.chmod(0o600)
        client_conf.write_text(f"autospawn = no\ndefault-server = {self.server}\n")
        server = alsa_string(self.server)
        self.alsa_config_path.write_text(
            f"""\
pcm.!default {{
    type pulse
    server {server}
    device {alsa_string(sink_name)}
}}
ctl.!default {{
    type pulse
    server {server}
}}
{HW_DEFS}"""
        )
        self.env: dict[str, str] = {
            "ALSA_CONFIG_PATH": str(self.alsa_config_path),
            "PULSE_SERVER": self.server,
            "PULSE_CLIENTCONFIG": str(client_conf),
            "PULSE_COOKIE": str(self.cookie_path),
        }
        home = self.dir / "home"
        home.mkdir()
        self._daemon_env = {
            **{k: v for k, v in os.environ.items() if k not in ("DISPLAY", "PULSE_SERVER")},
            **self.env,
            "HOME": str(home),
            "XDG_RUNTIME_DIR": str(runtime),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "PULSE_RUNTIME_PATH": str(runtime),
            "PULSE_STATE_PATH": str(self.dir / "state"),
            # Keep the daemon off any real D-Bus session bus.
            "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent",
        }
        self._proc: subprocess.Popen[bytes] | None = None
        self._wav: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        """Whether Debian's pulseaudio and pulseaudio-utils are installed."""
        return all(shutil.which(tool) for tool in ("pulseaudio", "parec", "pactl"))

    def start(self) -> VirtualReceiver:
        """Start the daemon and wait until it answers; raises AudioError with its log."""
        if self._proc is not None:
            return self
        if not self.available():
            raise AudioError("pulseaudio and parec (Debian's pulseaudio-utils) are required")
        sink_args = (
            f"sink_name={self.sink_name} format=float32le rate={RATE} channels=1 norewinds=1"
        )
        cmd = [
            *pdeathsig_prefix(),
            "pulseaudio",
            "-n",  # no default.pa: only the modules below
            "--daemonize=no",
            "--system=no",
            "--fail=yes",
            "--exit-idle-time=-1",
            "--disallow-exit=yes",
            "--use-pid-file=no",
            # Socket transfer only: memfd blocks trip PulseAudio bug #824 ("non-registered
            # memfd ID") and /dev/shm may be tiny in containers.
            "--disable-shm=yes",
            "--log-target=stderr",
            "--log-level=notice",
            "-L",
            f"module-null-sink {sink_args}",
            "-L",
            f"module-native-protocol-unix socket={self.socket_path} "
            f"auth-anonymous=1 auth-cookie={self.cookie_path}",
            "-L",
            "module-suspend-on-idle timeout=0",
        ]
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self._daemon_env
            )
        weakref.finalize(self, stop_process, self._proc)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._proc.poll() is not None:
                raise AudioError(f"pulseaudio exited with {self._proc.returncode}:\n{self.log()}")
            if self.socket_path.exists():
                probe = subprocess.run(
                    ["pactl", "list", "short", "sinks"],
                    env=self.client_env(),
                    capture_output=True,
                    timeout=5,
                )
                if probe.returncode == 0:
                    if self.sink_name.encode() in probe.stdout.split():
                        return
                    # Answering without the sink: a module failed (-L failures are not fatal).
                    raise AudioError(f"pulseaudio has no sink {self.sink_name!r}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AudioError(
                    f"pulseaudio not ready after {self.startup_timeout} s:\n{self.log()}"
                )
            time.sleep(0.02)

    def client_env(self) -> dict[str, str]:
        """This process's environment with the receiver as its ALSA "default"."""
        return {**os.environ, **self.env}

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log(self, lines: int = 40) -> str:
        """The last `lines` lines of the daemon's stderr."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def pactl(self, *args: str) -> str:
        """Run pactl against this daemon and return its stdout."""
        done = subprocess.run(
            ["pactl", *args], env=self.client_env(), capture_output=True, text=True, timeout=10
        )
        if done.returncode != 0:
            raise AudioError(f"pactl {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def record_wav(self, path: Path) -> None:
        """Write everything the sink plays from now on to a WAV file (48 kHz mono, 16 bit)."""
        if self._wav is not None:
            raise AudioError("the virtual receiver is already recording")
        cmd = [
            *pdeathsig_prefix(),
            "parec",
            f"--device={self.sink_name}.monitor",
            "--file-format=wav",
            "--format=s16le",
            f"--rate={RATE}",
            "--channels=1",
            "--client-name=kiosk-receiver",
            str(path),
        ]
        self._wav = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self.client_env(),
        )
        weakref.finalize(self, stop_process, self._wav)

    def stop(self) -> None:
        """Stop the WAV recording (parec closes the file on SIGTERM) and the daemon."""
        try:
            if self._wav is not None:
                stop_process(self._wav)
                self._wav = None
        finally:
            if self._proc is not None:
                stop_process(self._proc)
                self._proc = None

    def __enter__(self) -> VirtualReceiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
