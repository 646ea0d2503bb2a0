"""A small process supervisor for tests where systemd is not PID 1 (kiosk.update.supervisor).

    python -m tests.supervisor STATE_FILE -- /opt/kiosk/current/bin/kiosk run --config ...

It runs the command with a NOTIFY_SOCKET it listens on, restarts it when it exits (counted in
`restarts`, like systemd's NRestarts, after `RESTART_S`), restarts it on SIGHUP (counted in
`generation`), stops it on SIGTERM, and keeps STATE_FILE current:
{"pid", "generation", "restarts", "ready", "running" (the resolved binary), "ready_message",
"stopping_at", "stopped_at", "ready_at" (unix times of the last SIGTERM, exit and READY=1)}.
One JSON line per event goes to STATE_FILE + ".log".
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

RESTART_S = 0.5


class Supervisor:
    def __init__(self, state_file: Path, command: list[str]) -> None:
        self.state_file = state_file
        self.command = command
        self.lock = threading.Lock()
        self.state: dict[str, object] = {
            "pid": os.getpid(),
            "generation": 0,
            "restarts": 0,
            "ready": False,
            "running": "",
            "stopped_at": 0.0,
            "ready_at": 0.0,
            "ready_message": "",
            "stopping_at": 0.0,
        }
        self.notify_path = str(state_file.with_name(state_file.name + ".notify"))
        if os.path.exists(self.notify_path):
            os.unlink(self.notify_path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.notify_path)
        self.hup = threading.Event()
        self.term = threading.Event()
        self.child: subprocess.Popen[bytes] | None = None

    def publish(self, event: str, **changes: object) -> None:
        with self.lock:
            self.state.update(changes)
            tmp = self.state_file.with_name(self.state_file.name + ".tmp")
            tmp.write_text(json.dumps(self.state))
            os.replace(tmp, self.state_file)
            with open(f"{self.state_file}.log", "a") as log:
                log.write(json.dumps({"event": event, "t": time.time(), **self.state}) + "\n")

    def listen(self) -> None:
        while True:
            try:
                data = self.sock.recv(4096).decode(errors="replace")
            except OSError:
                return
            if "READY=1" in data.splitlines():
                self.publish("ready", ready=True, ready_at=time.time(), ready_message=data)

    def start(self) -> None:
        running = os.path.realpath(self.command[0])
        env = {**os.environ, "NOTIFY_SOCKET": self.notify_path}
        try:
            self.child = subprocess.Popen(self.command, env=env)
        except OSError as e:  # like systemd: counted as a failed start, retried
            self.child = None
            self.publish("start failed", ready=False, running=running, error=str(e))
            return
        self.publish("start", ready=False, running=running)

    def stop(self) -> None:
        if self.child is None:
            return
        if self.child.poll() is None:
            self.publish("stopping", stopping_at=time.time())
            self.child.terminate()
            try:
                self.child.wait(15)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait()
        self.publish("stop", ready=False, stopped_at=time.time())

    def run(self) -> int:
        signal.signal(signal.SIGHUP, self._on_hup)
        signal.signal(signal.SIGTERM, self._on_term)
        threading.Thread(target=self.listen, daemon=True).start()
        self.start()
        while not self.term.is_set():
            time.sleep(0.02)
            if self.hup.is_set():
                self.hup.clear()
                self.stop()
                generation = self.state["generation"]
                assert isinstance(generation, int)
                self.state["generation"] = generation + 1
                self.start()
            elif self.child is None or self.child.poll() is not None:
                self.publish("exit", ready=False, stopped_at=time.time())
                time.sleep(RESTART_S)
                restarts = self.state["restarts"]
                assert isinstance(restarts, int)
                self.state["restarts"] = restarts + 1
                self.start()
        self.stop()
        self.sock.close()
        os.unlink(self.notify_path)
        return 0

    def _on_hup(self, signum: int, frame: FrameType | None) -> None:
        self.hup.set()

    def _on_term(self, signum: int, frame: FrameType | None) -> None:
        self.term.set()


def main(argv: list[str]) -> int:
    state_file, sep, *command = argv
    assert sep == "--" and command, "usage: python -m tests.supervisor STATE -- COMMAND..."
    return Supervisor(Path(state_file), command).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
