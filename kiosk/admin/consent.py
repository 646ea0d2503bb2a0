"""The consent register on the admin's side: read it, write it, check a folder against it.

A publish is refused for any source file the register retires (by its own sha256 or the
repository's settings-salted key), naming each file, unless the admin reinstates it with a
reason; a new file with the title and speaker of a retired one is published with a warning,
since a re-trimmed copy has a new hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from tuf.api.metadata import Metadata, Targets

from kiosk.admin.destination import Destination
from kiosk.admin.publish import Loudness, PublishError, source_key
from kiosk.clips.clipset import ClipSet
from kiosk.content.consent import CONSENT, ConsentRegister, Reinstatement, parse_register


def read_register(dest: Destination, targets: Metadata[Targets]) -> ConsentRegister:
    """The register in `targets`, or an empty one."""
    info = targets.signed.targets.get(CONSENT)
    if info is None:
        return ConsentRegister()
    return parse_register(dest.read_target(info), info.path)


def put_register(dest: Destination, targets: Metadata[Targets], register: ConsentRegister) -> None:
    """Upload `register` and list it in `targets` (unsigned: the caller signs once)."""
    info = dest.put_target(CONSENT, register.to_json())
    targets.signed.targets[info.path] = info


@dataclass(frozen=True)
class Checked:
    register: ConsentRegister  # with the reinstated sources taken out
    reinstated: tuple[Reinstatement, ...]
    warnings: list[str]


def check_sources(
    clipset: ClipSet,
    register: ConsentRegister,
    loudness: Loudness,
    reinstate: Mapping[str, str],
    by: str,
    now: dt.datetime,
) -> Checked:
    """Raises PublishError naming every retired file not reinstated (and every `reinstate`
    name that is not a retired file of the folder)."""
    problems: list[str] = []
    warnings: list[str] = []
    wanted = {Path(f).name: reason for f, reason in reinstate.items()}
    retired = list(register.retired)
    reinstated: list[Reinstatement] = []
    for clip in clipset.clips:
        path = clipset.path_of(clip)
        try:
            source = path.read_bytes()
        except OSError:
            continue  # encode_set names it
        plain = hashlib.sha256(source).hexdigest()
        found = register.find_source(plain, source_key(source, loudness))
        if found is None:
            same = register.find_person(clip.title, clip.speaker)
            if same is not None:
                warnings.append(
                    f"{path}: same title and speaker as {same.file}, retired {same.at[:10]} "
                    f"({same.reason}); is it the same recording?"
                )
            continue
        reason = wanted.pop(clip.file, None)
        if reason is None:
            problems.append(
                f"{path}: consent withdrawn {found.at[:10]} by {found.by or 'an admin'} "
                f"({found.reason}); to publish it again: --reinstate {clip.file} --reason TEXT"
            )
            continue
        if found in retired:
            retired.remove(found)
        reinstated.append(
            Reinstatement(
                source_sha256=found.source_sha256,
                source_key=found.source_key,
                file=found.file,
                title=found.title,
                speaker=found.speaker,
                reason=reason,
                by=by,
                at=now.isoformat(),
                retired_reason=found.reason,
            )
        )
    problems += [f"--reinstate {f}: not a retired file of {clipset.folder}" for f in wanted]
    if problems:
        raise PublishError(problems)
    updated = replace(
        register, retired=tuple(retired), reinstated=(*register.reinstated, *reinstated)
    )
    return Checked(updated, tuple(reinstated), warnings)
