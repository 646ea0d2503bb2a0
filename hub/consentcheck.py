"""The hub's second line of consent: a publish may not quietly undo a retirement.

The admin's `kiosk-admin` already refuses; this catches an older or hand-made client. A new
targets version is refused when it drops a retirement from the consent register without
recording its reinstatement, or when a set manifest it changes names a retired clip.
"""

from __future__ import annotations

from collections.abc import Callable

from tuf.api.metadata import TargetFile, Targets

from kiosk.content.consent import CONSENT, ConsentRegister, parse_register
from kiosk.content.manifest import parse_manifest
from kiosk.errors import ConfigError

ReadTarget = Callable[[TargetFile], bytes]


class ConsentRefused(ValueError):
    """The publish would bring a retired clip back; the message names it."""


def check(old: Targets, new: Targets, read: ReadTarget) -> None:
    """Raises ConsentRefused naming the clip and the reason."""
    before = _register(old, read)
    if not before.retired:
        return
    after = _register(new, read)
    kept = {(r.source_key, r.targets) for r in after.retired}
    back = {(r.source_sha256, r.source_key) for r in after.reinstated}
    for r in before.retired:
        if (r.source_key, r.targets) not in kept and (r.source_sha256, r.source_key) not in back:
            raise ConsentRefused(
                f"{CONSENT}: drops the retirement of {r.file} ({r.reason}) without a "
                "reinstatement: use kiosk-admin publish --reinstate FILE --reason TEXT"
            )
    retired = after.retired_sha256s()
    for path, info in new.targets.items():
        if not path.endswith("/clipset.json") or old.targets.get(path) == info:
            continue
        try:
            manifest = parse_manifest(read(info), path)
        except (ConfigError, OSError) as e:
            raise ConsentRefused(f"{path}: cannot check it against {CONSENT}: {e}") from e
        named = [c.file for c in manifest.clips if c.sha256 in retired]
        if named:
            raise ConsentRefused(f"{path}: names retired clips {named} (see {CONSENT})")


def _register(targets: Targets, read: ReadTarget) -> ConsentRegister:
    info = targets.targets.get(CONSENT)
    if info is None:
        return ConsentRegister()
    try:
        return parse_register(read(info), info.path)
    except (ConfigError, OSError) as e:
        raise ConsentRefused(f"{CONSENT}: {e}") from e
