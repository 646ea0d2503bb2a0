"""A one-line progress bar on a terminal, plain lines otherwise (logs, CI)."""

from __future__ import annotations

import re
import sys
from typing import TextIO

_STEP = re.compile(r"^\[(\d+)/(\d+)\] (.*)$")


class ProgressBar:
    """Feed it lines like "[3/20] maria.opus: uploaded 50 KiB"."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.tty = stream.isatty()
        self._open = False

    def __call__(self, line: str) -> None:
        match = _STEP.match(line)
        if not self.tty or match is None:
            self.close()
            print(line, file=self.stream)
            return
        done, total, text = int(match.group(1)), int(match.group(2)), match.group(3)
        filled = round(self.width * done / max(total, 1))
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {done}/{total} {text[:60]:<60}")
        self.stream.flush()
        self._open = done < total
        if not self._open:
            self.stream.write("\n")

    def close(self) -> None:
        if self._open:
            self.stream.write("\n")
            self._open = False
