"""A PKCS#11 token for tests: SoftHSM 2 (Debian's softhsm2) with one ECDSA P-256 key.

It stands in for a YubiKey's PIV slot 9c: key id 2, the default of securesystemslib's HSMSigner.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pkcs11
import pkcs11.util.ec

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
LABEL = "kiosk-test"


class SoftHsm:
    """A token under `folder`; `env` points SoftHSM and HSMSigner at it."""

    def __init__(self, folder: Path, pin: str = "123456") -> None:
        self.pin = pin
        tokens = folder / "tokens"
        tokens.mkdir(parents=True)
        self.conf = folder / "softhsm2.conf"
        self.conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
        self.env = {"SOFTHSM2_CONF": str(self.conf), "PYKCS11LIB": MODULE}

    def init_token(self) -> None:
        pins = ["--so-pin", "87654321", "--pin", self.pin]
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", LABEL, *pins],
            check=True,
            capture_output=True,
            env={"SOFTHSM2_CONF": str(self.conf)},
        )

    def generate_key(self, key_id: int = 2) -> None:
        """An ECDSA P-256 key pair on the token (needs `env` in os.environ)."""
        token = pkcs11.lib(MODULE).get_token(token_label=LABEL)
        with token.open(rw=True, user_pin=self.pin) as session:
            curve = pkcs11.util.ec.encode_named_curve_parameters("secp256r1")
            params = session.create_domain_parameters(
                pkcs11.KeyType.EC, {pkcs11.Attribute.EC_PARAMS: curve}, local=True
            )
            params.generate_keypair(store=True, id=pkcs11.util.biginteger(key_id), label="targets")
