"""A throwaway certificate authority (Debian's openssl) and a server certificate it signed
for 127.0.0.1, for the TLS tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def server_certificate(folder: Path) -> tuple[Path, Path, Path]:
    """(certificate, key, CA certificate) in `folder`; valid two days, for IP 127.0.0.1."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    cert, key, csr = folder / "cert.pem", folder / "key.pem", folder / "cert.csr"
    ext = folder / "cert.ext"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    make_ca = ["req", "-x509", *EC, "-days", "2", "-subj", "/CN=kiosk test CA"]
    request = ["req", *EC, "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(csr)]
    sign = ["x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key)]
    for args in (
        [*make_ca, "-keyout", str(ca_key), "-out", str(ca)],
        request,
        [*sign, "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert)],
    ):
        cmd = ["openssl", *args]
        subprocess.run(cmd, check=True, capture_output=True)
    return cert, key, ca
