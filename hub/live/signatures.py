"""Each platform's authentication of a stream, as pure functions (no I/O, clock passed in).

Twilio: `X-Twilio-Signature` is base64(HMAC-SHA1(auth token, URL + every POST parameter's
name and value, sorted by name)); a WebSocket upgrade has no POST parameters.

AudioHook: `X-API-KEY` must be the configured key. With a client secret, the upgrade must also
carry an HTTP message signature (`Signature-Input`, `Signature`; hmac-sha256 keyed with the
base64-decoded secret) over at least the request target, authority, the three audiohook ids and
the API key, with `keyid` = the API key and `created`/`expires` around now.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

REQUIRED_COMPONENTS = frozenset(
    {
        "@request-target",
        "@authority",
        "audiohook-organization-id",
        "audiohook-session-id",
        "audiohook-correlation-id",
        "x-api-key",
    }
)
MAX_SKEW_S = 30.0


def twilio_signature(url: str, params: Mapping[str, str], auth_token: str) -> str:
    data = url + "".join(k + params[k] for k in sorted(params))
    mac = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def twilio_valid(url: str, params: Mapping[str, str], auth_token: str, given: str) -> bool:
    if not auth_token or not given:
        return False
    return hmac.compare_digest(twilio_signature(url, params, auth_token).encode(), given.encode())


@dataclass(frozen=True)
class SignatureInput:
    label: str
    components: tuple[str, ...]
    params: dict[str, str | int]
    raw_params: str  # the serialized signature parameters, exactly as sent


_INPUT = re.compile(r"^\s*([a-z][a-z0-9_-]*)=(\(([^)]*)\)(.*))$")
_PARAM = re.compile(r';\s*([a-z][a-z0-9_-]*)=("(?:[^"\\]|\\.)*"|-?\d+)')
_SIG = re.compile(r"^\s*([a-z][a-z0-9_-]*)=:([A-Za-z0-9+/=]*):\s*$")


def parse_signature_input(header: str) -> SignatureInput | None:
    match = _INPUT.match(header)
    if match is None:
        return None
    label, raw, inner, rest = match.groups()
    components = tuple(re.findall(r'"([^"]*)"', inner))
    params: dict[str, str | int] = {}
    for key, value in _PARAM.findall(rest):
        params[key] = value[1:-1] if value.startswith('"') else int(value)
    return SignatureInput(label, components, params, raw)


def signature_base(si: SignatureInput, values: Mapping[str, str]) -> bytes:
    """RFC 9421's signature base: one `"name": value` line per component, then the params."""
    lines = [f'"{c}": {values[c]}' for c in si.components]
    lines.append(f'"@signature-params": {si.raw_params}')
    return "\n".join(lines).encode()


def audiohook_signature(base: bytes, client_secret: str) -> str:
    key = base64.b64decode(client_secret)
    return base64.b64encode(hmac.new(key, base, hashlib.sha256).digest()).decode()


class Nonces:
    """Signature nonces seen while their signature could still be valid: a replayed upgrade
    is refused (per hub process; a signature lives `expires` + MAX_SKEW_S at most)."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def fresh(self, nonce: str, until: float, now: float) -> bool:
        if len(self._until) >= 1000:  # forget the expired now and then
            self._until = {n: t for n, t in self._until.items() if t >= now}
        if nonce in self._until:
            return False
        self._until[nonce] = until
        return True


def audiohook_problem(
    headers: Mapping[str, str],
    target: str,
    api_key: str,
    client_secret: str,
    now: float,
    nonces: Nonces | None = None,
) -> str | None:
    """Why this upgrade is refused, or None. `headers` has lower-case names; `target` is the
    path plus query; `nonces` refuses a signature seen before."""
    given = headers.get("x-api-key", "")
    if not api_key or not hmac.compare_digest(given.encode(), api_key.encode()):
        return "bad or missing X-API-KEY"
    for name in ("audiohook-organization-id", "audiohook-session-id", "audiohook-correlation-id"):
        if not headers.get(name):
            return f"missing {name}"
    if not client_secret:
        return None
    si = parse_signature_input(headers.get("signature-input", ""))
    sig = _SIG.match(headers.get("signature", ""))
    if si is None or sig is None or sig.group(1) != si.label:
        return "missing or malformed Signature-Input/Signature"
    if not set(si.components) >= REQUIRED_COMPONENTS:
        return "the signature does not cover the required components"
    if si.params.get("alg", "hmac-sha256") != "hmac-sha256" or si.params.get("keyid") != api_key:
        return "unexpected signature alg or keyid"
    created, expires = si.params.get("created"), si.params.get("expires")
    if not isinstance(created, int) or created > now + MAX_SKEW_S:
        return "signature created in the future or not at all"
    if isinstance(expires, int) and expires < now - MAX_SKEW_S:
        return "signature expired"
    values = {**headers, "@request-target": target, "@authority": headers.get("host", "").lower()}
    if any(c not in values for c in si.components):
        return "the signature covers a header that is not there"
    try:
        wanted = audiohook_signature(signature_base(si, values), client_secret)
    except (binascii.Error, ValueError):
        return "the configured client secret is not base64"
    if not hmac.compare_digest(wanted.encode(), sig.group(2).encode()):
        return "bad signature"
    nonce = str(si.params.get("nonce", ""))
    until = (expires if isinstance(expires, int) else created + 300) + MAX_SKEW_S
    if nonces is not None and nonce and not nonces.fresh(nonce, until, now):
        return "signature replayed (nonce seen before)"
    return None
