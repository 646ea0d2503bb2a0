"""The hook file the root update helper reads ("on\n" or "off\n"; kiosk.release.manifest).

Rewritten by the main loop (the thread that owns the hook state) at every hook change, without
fsync: it lives on /run (tmpfs) and only says what is true now. Mode 0644 whatever the umask.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class HookFile:
    """Writes `path` when the hook state changes; a missing folder is logged once, then ignored."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._written: bool | None = None
        self._warned = False

    def write(self, on_hook: bool) -> None:
        if on_hook == self._written:
            return
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.fchmod(fd, 0o644)
                os.write(fd, b"on\n" if on_hook else b"off\n")
            finally:
                os.close(fd)
            os.replace(tmp, self.path)  # a reader never sees a half-written file
        except OSError as e:
            if not self._warned:
                log.warning("update.hook_file %s: cannot write: %s", self.path, e)
                self._warned = True
            return
        self._written = on_hook
