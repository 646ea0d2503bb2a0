"""Where a key's passphrase comes from: a file, an environment variable or a prompt, never argv.

A passphrase on the command line would sit in the shell history and in `ps` for every user.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from kiosk.content.keys import KeyError_

TARGETS_ENV = "KIOSK_ADMIN_PASSPHRASE"
ROOT_ENV = "KIOSK_ADMIN_ROOT_PASSPHRASE"
PIN_ENV = "KIOSK_ADMIN_TOKEN_PIN"  # a hardware token's user PIN
MIN_LENGTH = 8  # for a new key's passphrase


class PassphraseSource:
    """Gives one passphrase, read once: `file`, else `$env_var`, else a prompt on a terminal.

    With `new`, the passphrase is for keys about to be made: a prompt asks twice, and a short
    one is refused.
    """

    def __init__(
        self,
        what: str,
        env_var: str,
        file: Path | None = None,
        flag: str = "--passphrase-file",
        environ: Mapping[str, str] = os.environ,
        prompt: Callable[[str], str] = getpass.getpass,
        interactive: Callable[[], bool] = sys.stdin.isatty,
    ) -> None:
        self.what = what
        self.env_var = env_var
        self.file = file
        self.flag = flag
        self.new = False
        self._environ = environ
        self._prompt = prompt
        self._interactive = interactive
        self._value: bytes | None = None

    def __call__(self) -> bytes:
        if self._value is None:
            text = self._read()
            if self.new and len(text) < MIN_LENGTH:
                raise KeyError_(f"the {self.what} passphrase needs {MIN_LENGTH} characters or more")
            if not text:
                raise KeyError_(f"the {self.what} passphrase is empty")
            self._value = text.encode()
        return self._value

    def _read(self) -> str:
        if self.file is not None:
            try:
                return self.file.read_text().rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as e:
                raise KeyError_(f"{self.flag}: cannot read {self.file}: {e}") from e
        if self.env_var in self._environ:
            return self._environ[self.env_var]
        if not self._interactive():
            raise KeyError_(
                f"no passphrase for the {self.what} key: set {self.env_var}, "
                f"give {self.flag} FILE, or run on a terminal"
            )
        text = self._prompt(f"passphrase for the {self.what} key: ")
        if self.new and self._prompt(f"the {self.what} passphrase again: ") != text:
            raise KeyError_(f"the two {self.what} passphrases differ")
        return text
