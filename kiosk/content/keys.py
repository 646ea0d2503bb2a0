"""Signing keys on disk: ed25519 private keys as 0600 PKCS#8 PEM, public keys as JSON.

A private key may be encrypted with a passphrase (PKCS#8 with the best encryption the
`cryptography` package offers); the passphrase is asked for only when an encrypted key is used.
A key may also stay on a hardware token (PKCS#11, e.g. a YubiKey's PIV slot): then there is no
PEM file, and `<name>.pub.json` holds the token's `hsm:` URI as well (securesystemslib's
HSMSigner; needs python-pkcs11 and PYKCS11LIB, the token's PKCS#11 module).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.exceptions import UnsupportedLibraryError
from securesystemslib.signer import CryptoSigner, HSMSigner, Key, Signature, Signer, SSlibKey

from kiosk.errors import KioskError


class KeyError_(KioskError, LookupError):
    """A key file is missing or unreadable, or its passphrase is wrong or missing."""


ROLES = ("root", "targets", "snapshot", "timestamp")
Passphrase = Callable[[], bytes]


def _no_passphrase() -> bytes:
    raise KeyError_("the key is encrypted and no passphrase was given")


class KeyStore:
    """A folder of keys: `<name>.pem` (private, 0600) and `<name>.pub.json`.

    `passphrase()` gives the passphrase for encrypted keys (called only when one is needed).
    """

    def __init__(
        self,
        folder: Path,
        passphrase: Passphrase = _no_passphrase,
        pin: Passphrase = _no_passphrase,
    ) -> None:
        """`pin()` gives a hardware token's user PIN."""
        self.folder = folder
        self.passphrase = passphrase
        self.pin = pin

    def import_token_key(self, name: str, key_id: int) -> Signer:
        """Use the ECDSA key `key_id` on the one PKCS#11 token present as key `name`."""
        try:
            uri, key = HSMSigner.import_(key_id, secrets_handler=self._pin_text)
        except (ValueError, RuntimeError, UnsupportedLibraryError) as e:
            raise KeyError_(f"hardware token, key id {key_id}: {e}") from e
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        public = {"keyid": key.keyid, "key": key.to_dict(), "uri": uri}
        (self.folder / f"{name}.pub.json").write_text(json.dumps(public, indent=1))
        return self.signer(name)

    def _pin_text(self, _what: str) -> str:
        return self.pin().decode()

    def _uri(self, name: str) -> str | None:
        try:
            uri = json.loads((self.folder / f"{name}.pub.json").read_text()).get("uri")
        except (OSError, ValueError, AttributeError):
            return None
        return uri if isinstance(uri, str) else None

    def generate(self, name: str, encrypt: bool = False) -> Signer:
        """A new ed25519 key; with `encrypt`, its PEM is encrypted with `passphrase()`."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        private = Ed25519PrivateKey.generate()
        encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
        if encrypt:
            encryption = serialization.BestAvailableEncryption(self.passphrase())
        data = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        public_key = SSlibKey.from_crypto(private.public_key())
        pem = self.folder / f"{name}.pem"
        fd = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        public = {"keyid": public_key.keyid, "key": public_key.to_dict()}
        (self.folder / f"{name}.pub.json").write_text(json.dumps(public, indent=1))
        return CryptoSigner(private, public_key)

    def has(self, name: str) -> bool:
        return (self.folder / f"{name}.pem").is_file() or self._uri(name) is not None

    def names(self, role: str) -> list[str]:
        """The keys of `role` here: `<role>.pem` or `<role>-<n>.pem` (not retired `.old` ones)."""
        found = []
        for pem in self.folder.glob(f"{role}*.pem"):
            stem = pem.name.removesuffix(".pem")
            if stem == role or (stem.startswith(f"{role}-") and stem[len(role) + 1 :].isdigit()):
                found.append(stem)
        return sorted(found, key=lambda s: (len(s), s))

    def encrypted(self, name: str) -> bool:
        try:
            with (self.folder / f"{name}.pem").open("rb") as f:
                return b"ENCRYPTED" in f.readline()
        except OSError:
            return False

    def public(self, name: str) -> Key:
        path = self.folder / f"{name}.pub.json"
        try:
            data = json.loads(path.read_text())
            return Key.from_dict(data["keyid"], data["key"])
        except (OSError, ValueError, KeyError) as e:
            raise KeyError_(f"{path}: cannot load public key: {e}") from e

    def signer(self, name: str) -> Signer:
        pem = self.folder / f"{name}.pem"
        uri = None if pem.is_file() else self._uri(name)
        if uri is not None:
            return _TokenSigner(uri, self.public(name), self._pin_text)
        if not pem.is_file():
            raise KeyError_(f"{pem}: no such key (run `kiosk-admin init` or copy it here)")
        public = self.public(name)
        data = pem.read_bytes()
        password = None
        if self.encrypted(name):
            try:
                password = self.passphrase()
            except KeyError_ as e:
                raise KeyError_(f"{pem}: encrypted: {e}") from e
        try:
            private = serialization.load_pem_private_key(data, password)
        except (ValueError, TypeError) as e:
            reason = "wrong passphrase" if password else f"unreadable key: {e}"
            raise KeyError_(f"{pem}: {reason}") from e
        if not isinstance(private, Ed25519PrivateKey) or not isinstance(public, SSlibKey):
            raise KeyError_(f"{pem}: not an ed25519 key")
        if SSlibKey.from_crypto(private.public_key()).keyid != public.keyid:
            raise KeyError_(f"{pem}: does not match {name}.pub.json")
        return CryptoSigner(private, public)

    def retire(self, name: str) -> str:
        """Rename a replaced key's files so a rotation never loses the old key by accident.

        Returns the retired key's new name (`<name>.old<n>`).
        """
        n = 1
        while (self.folder / f"{name}.old{n}.pem").exists() or (
            self.folder / f"{name}.old{n}.pub.json"
        ).exists():
            n += 1
        for suffix in (".pem", ".pub.json"):
            path = self.folder / f"{name}{suffix}"
            if path.exists():
                path.rename(self.folder / f"{name}.old{n}{suffix}")
        return f"{name}.old{n}"


class _TokenSigner(Signer):
    """HSMSigner, with its errors (no token, wrong PIN, no key) as KeyError_."""

    def __init__(self, uri: str, public: Key, pin: Callable[[str], str]) -> None:
        self.uri = uri
        try:
            self._inner = Signer.from_priv_key_uri(uri, public, pin)
        except (ValueError, UnsupportedLibraryError) as e:
            raise KeyError_(f"{uri}: {e}") from e

    @property
    def public_key(self) -> Key:
        return self._inner.public_key

    def sign(self, payload: bytes) -> Signature:
        try:
            return self._inner.sign(payload)
        except (ValueError, RuntimeError, UnsupportedLibraryError) as e:  # python-pkcs11's
            # errors are RuntimeErrors
            raise KeyError_(f"{self.uri}: cannot sign: {type(e).__name__}: {e}") from e

    @classmethod
    def from_priv_key_uri(
        cls, priv_key_uri: str, public_key: Key, secrets_handler: Callable[[str], str] | None = None
    ) -> Signer:
        raise NotImplementedError("made by KeyStore.signer()")
