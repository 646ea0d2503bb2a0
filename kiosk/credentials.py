"""Secrets and hub URLs on the command line of `kiosk enroll` and `kiosk-admin`.

A token never has to be an argument (other users see argv in `ps`): it comes from a file
(`--token-file PATH`, or `-` for standard input) or from an environment variable. The old
`--token T` still works, with a warning. A hub URL must be https, except on loopback, unless
`--insecure` says the operator knows (a token sent over plain HTTP can be read on the way).
"""

from __future__ import annotations

import ipaddress
import sys
import urllib.parse
from pathlib import Path
from typing import TextIO

from kiosk.errors import KioskError


class CredentialError(KioskError, ValueError):
    """No usable token was given, or a hub URL may not be used."""


def read_token(
    *,
    flag: str | None,
    file: Path | None,
    env: dict[str, str] | None,
    env_name: str,
    stdin: TextIO | None = None,
) -> str:
    """The token from `file` ("-": standard input), else `flag` (warned about), else the
    environment variable `env_name`. Raises CredentialError if there is none."""
    if file is not None:
        try:
            text = (stdin or sys.stdin).read() if str(file) == "-" else file.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise CredentialError(f"--token-file {file}: unreadable: {e}") from e
        token = text.strip()
        if not token:
            raise CredentialError(f"--token-file {file}: empty")
        return token
    if flag:
        print(
            f"warning: --token shows the token to every user of this machine (ps); "
            f"use {env_name} or --token-file instead",
            file=sys.stderr,
        )
        return flag
    token = (env or {}).get(env_name, "").strip()
    if token:
        return token
    raise CredentialError(f"no token: set {env_name}, or give --token-file FILE (- for stdin)")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_hub_url(url: str, insecure: bool) -> None:
    """https, or http to this machine; plain http elsewhere only with `insecure`."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CredentialError(f"{url}: expected https://host[:port]")
    if parts.scheme == "http" and not is_loopback(parts.hostname) and not insecure:
        raise CredentialError(
            f"{url}: plain http would send the token readable on the way; use https "
            "(or --insecure on a network you trust)"
        )
