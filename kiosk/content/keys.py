"""Signing keys on disk: ed25519 private keys as 0600 PKCS#8 PEM, public keys as JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

from securesystemslib.signer import CryptoSigner, Key, Signer

from kiosk.errors import KioskError


class KeyError_(KioskError, LookupError):
    """A key file is missing or unreadable."""


ROLES = ("root", "targets", "snapshot", "timestamp")


class KeyStore:
    """A folder of keys: `<name>.pem` (private, 0600) and `<name>.pub.json`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def generate(self, name: str) -> Signer:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        signer = CryptoSigner.generate_ed25519()
        pem = self.folder / f"{name}.pem"
        fd = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(signer.private_bytes)
        public = {"keyid": signer.public_key.keyid, "key": signer.public_key.to_dict()}
        (self.folder / f"{name}.pub.json").write_text(json.dumps(public, indent=1))
        return self.signer(name)

    def has(self, name: str) -> bool:
        return (self.folder / f"{name}.pem").is_file()

    def public(self, name: str) -> Key:
        path = self.folder / f"{name}.pub.json"
        try:
            data = json.loads(path.read_text())
            return Key.from_dict(data["keyid"], data["key"])
        except (OSError, ValueError, KeyError) as e:
            raise KeyError_(f"{path}: cannot load public key: {e}") from e

    def signer(self, name: str) -> Signer:
        pem = self.folder / f"{name}.pem"
        if not pem.is_file():
            raise KeyError_(f"{pem}: no such key (run `kiosk-admin init` or copy it here)")
        return Signer.from_priv_key_uri(f"file2:{pem}", self.public(name))

    def retire(self, name: str) -> None:
        """Rename a replaced key's files so a rotation never loses the old key by accident."""
        for suffix in (".pem", ".pub.json"):
            path = self.folder / f"{name}{suffix}"
            if path.exists():
                n = 1
                while (old := self.folder / f"{name}.old{n}{suffix}").exists():
                    n += 1
                path.rename(old)
