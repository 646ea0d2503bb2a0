"""Run `kiosk simulate --headless` as a child process and talk to it line by line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

KIOSK = [sys.executable, "-m", "kiosk.cli"]


def write_config(folder: Path, clips: Path, **overrides: Any) -> Path:
    """A kiosk.yaml for a test booth: state under `folder`, clips from `clips`."""
    sections: dict[str, dict[str, Any]] = {"clips": {"path": clips}}
    lines = [f"state_dir: {folder / 'state'}"]
    for key, value in overrides.items():
        section, _, leaf = key.partition("__")
        if leaf:
            sections.setdefault(section, {})[leaf] = value
        else:
            lines.append(f"{key}: {value}")
    for section, values in sections.items():
        lines += [f"{section}:", *(f"  {k}: {v}" for k, v in values.items())]
    path = folder / "kiosk.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


class HeadlessBooth:
    """The simulator in a child process; events arrive as dicts in `events`."""

    def __init__(
        self,
        config: Path | None,
        env: dict[str, str],
        args: tuple[str, ...] = (),
        kiosk: tuple[str, ...] = tuple(KIOSK),
        cwd: Path | None = None,
    ) -> None:
        """`kiosk` is the command to run (an installed `kiosk` script, say); no `config`
        means the simulator's built-in defaults."""
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        where = ["--config", str(config)] if config is not None else []
        self.proc = subprocess.Popen(
            [*kiosk, "simulate", "--headless", *where, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
            cwd=cwd,
        )
        self.stderr = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._err_reader = threading.Thread(target=self._read_err, daemon=True)
        self._err_reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.events.append(json.loads(line))
                self._cond.notify_all()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr += line

    def send(self, *commands: str) -> None:
        assert self.proc.stdin is not None
        for command in commands:
            self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def wait_for(self, event: str, count: int = 1, timeout: float = 15.0) -> dict[str, Any]:
        """The `count`-th event named `event`, waiting for it if needed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [e for e in self.events if e["event"] == event]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(
                        f"no {event} #{count} within {timeout} s; events: {self.events}\n"
                        f"stderr: {self.stderr}"
                    )
                self._cond.wait(min(left, 0.2))

    def named(self, event: str) -> list[dict[str, Any]]:
        with self._cond:
            return [e for e in self.events if e["event"] == event]

    def quit(self, timeout: float = 15.0) -> int:
        try:
            self.send("quit")
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            return self.proc.wait(timeout)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._reader.join(5)
        self._err_reader.join(5)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
