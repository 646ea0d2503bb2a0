"""baresip as a supervised child plus its ctrl_tcp connection, on one thread ("live-link").

The thread starts baresip, connects to ctrl_tcp on 127.0.0.1, and turns baresip's events into
`kiosk.live.events` posted to the main queue. If baresip dies or the connection breaks, it posts
`LiveStatus(False)`, kills what is left and starts again after a back-off (1 s doubling to
`live.retry_max_s`). The main thread only calls `dial`, `hangup` and `healthy`.

Call numbers: the session numbers its dials; the token of each `dial` command carries the number.
baresip runs commands in order on its main thread and reports a new call's events after the
command's response, so the first unseen call id after a dial's response is that dial's call.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.backoff import Backoff
from kiosk.config import LiveConfig
from kiosk.errors import LiveError
from kiosk.live import conf
from kiosk.live.events import CallAnswered, CallAudio, CallClosed, CallIncoming, LiveStatus
from kiosk.live.netstring import Decoder, encode

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
# A baresip that ran this long before dying was healthy: restart it at once next time.
STABLE_S = 60.0
# baresip's words for how a call ended, where the SIP status line does not say it.
REASONS = {"Connection reset by peer": "BYE", "Connection reset by user": "hangup"}


class LiveLink:
    """Owns the baresip child and its control socket; see the module docstring."""

    def __init__(
        self,
        live: LiveConfig,
        folder: Path,
        post: Callable[[object], None],
        log_fd: int | None = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.live = live
        self.folder = folder
        self.post = post
        self.log_fd = log_fd
        self.clock = clock
        self.restarts = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._ids: dict[str, int] = {}
        self._answered_dial: int | None = None

    # -- main thread ---------------------------------------------------------------------
    def start(self) -> None:
        """Start the link thread (it writes baresip's config: the interface may come up late)."""
        self._thread = threading.Thread(target=self._run, name="live-link", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Hang up, stop baresip and the thread (idempotent)."""
        self._stop.set()
        self._kill()
        with self._lock:
            sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def healthy(self) -> bool:
        """False once the link thread has died (a bug): the watchdog should then fire."""
        return self._thread is not None and self._thread.is_alive()

    def dial(self, call: int, uri: str) -> None:
        self._command({"command": "dial", "params": uri, "token": f"dial-{call}"}, call)

    def hangup(self, call: int) -> None:
        self._command({"command": "hangup", "token": f"hangup-{call}"}, None)

    def reject(self) -> None:
        """Refuse a ringing incoming call (486); only while no dial of ours is open."""
        self._command({"command": "hangup", "token": "reject"}, None)

    def _command(self, message: dict[str, Any], call: int | None) -> None:
        with self._lock:
            sock = self._sock
            try:
                if sock is None:
                    raise OSError("not connected")
                sock.sendall(encode(message))
                return
            except OSError as e:
                reason = f"baresip unavailable ({e})"
        if call is not None:
            self.post(CallClosed(call, reason))

    # -- the link thread -----------------------------------------------------------------
    def _run(self) -> None:
        backoff = Backoff(self.live.retry_max_s, stable_s=STABLE_S)
        while not self._stop.is_set():
            started = self.clock()
            try:
                reason = self._run_once()
            except LiveError as e:
                reason = str(e)
            self._disconnect()
            self._kill()
            if self._stop.is_set():
                return
            wait = backoff.wait_after(self.clock() - started)
            log.error("live: %s; restarting baresip in %.0f s", reason, wait)
            self.post(LiveStatus(False, reason))
            self._stop.wait(wait)
            self.restarts += 1

    def _run_once(self) -> str:
        """Start baresip, connect, read events until the connection ends; returns why."""
        address = conf.local_address(self.live.net_interface)
        try:
            conf.write(self.folder, conf.render(self.live, address))
        except OSError as e:
            raise LiveError(f"cannot write baresip's config in {self.folder}: {e}") from e
        self._proc = self._spawn()
        sock = self._connect(self._proc)
        with self._lock:
            self._sock = sock
        self._ids.clear()
        self._answered_dial = None
        registrar = self.live.account.registrar
        self.post(
            LiveStatus(False, f"registering with {registrar}") if registrar else LiveStatus(True)
        )
        log.info("live: baresip ready on ctrl_tcp 127.0.0.1:%d", self.live.ctrl_port)
        decoder = Decoder()
        while True:
            try:
                data = sock.recv(65536)
            except OSError as e:
                return f"ctrl_tcp: {e}"
            if not data:
                code = self._proc.poll()
                return "baresip exited" + (f" with {code}" if code is not None else "")
            for message in decoder.feed(data):
                self._handle(message)

    def _spawn(self) -> subprocess.Popen[bytes]:
        binary = shutil.which(self.live.baresip)
        if binary is None:
            raise LiveError(f"live.baresip: {self.live.baresip!r} not found (baresip-core)")
        # Kill baresip with us even if we are SIGKILLed (a systemd unit would do it anyway).
        setpriv = shutil.which("setpriv")
        prefix = [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []
        out = subprocess.DEVNULL if self.log_fd is None else self.log_fd
        try:
            return subprocess.Popen(
                [*prefix, binary, "-f", str(self.folder)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )
        except OSError as e:
            raise LiveError(f"cannot start baresip: {e}") from e

    def _connect(self, proc: subprocess.Popen[bytes]) -> socket.socket:
        deadline = self.clock() + CONNECT_TIMEOUT_S
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", self.live.ctrl_port), timeout=1.0)
            except OSError as e:
                if proc.poll() is not None:
                    raise LiveError(f"baresip exited with {proc.returncode} at start") from e
                if self.clock() > deadline or self._stop.is_set():
                    raise LiveError(f"ctrl_tcp 127.0.0.1:{self.live.ctrl_port}: {e}") from e
                self._stop.wait(0.05)
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock

    def _handle(self, message: dict[str, Any]) -> None:
        if message.get("response"):
            token = str(message.get("token", ""))
            if token.startswith("dial-"):
                call = int(token[5:])
                if message.get("ok"):
                    self._answered_dial = call
                else:
                    reason = str(message.get("data", "")).strip() or "dial failed"
                    self.post(CallClosed(call, reason))
            return
        kind = message.get("type")
        param = str(message.get("param", ""))
        if kind == "REGISTER_OK":
            self.post(LiveStatus(True))
        elif kind == "REGISTER_FAIL":
            self.post(LiveStatus(False, f"registration failed: {param}"))
        call_id = message.get("id")
        if not isinstance(call_id, str) or not call_id:
            return
        if message.get("direction") == "incoming":
            if kind == "CALL_INCOMING":
                self.post(CallIncoming(str(message.get("peeruri", ""))))
            return
        if call_id not in self._ids:
            if self._answered_dial is None:
                return  # not ours (an incoming call, or one from before a restart)
            self._ids[call_id], self._answered_dial = self._answered_dial, None
        call = self._ids[call_id]
        if kind == "CALL_ESTABLISHED":
            self.post(CallAnswered(call))
        elif kind == "CALL_RTPESTAB":
            self.post(CallAudio(call))
        elif kind == "CALL_CLOSED":
            del self._ids[call_id]
            self.post(CallClosed(call, REASONS.get(param, param or "closed")))

    def _disconnect(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def _kill(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
        proc.wait()
