"""`kiosk-admin new-set FOLDER`: a starter clipset.yaml from the audio files in a folder."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from kiosk.clips.clipset import AUDIO_SUFFIXES, MANIFEST
from kiosk.errors import ClipSetError


def starter_clipset(folder: Path) -> tuple[Path, int]:
    """Write FOLDER/clipset.yaml listing every audio file (title from the file name, speaker
    and consent expiry left for the admin); returns its path and the number of clips. Never
    overwrites an existing clipset.yaml."""
    target = folder / MANIFEST
    if target.exists():
        raise ClipSetError([f"{target}: exists already; edit it instead"])
    if not folder.is_dir():
        raise ClipSetError([f"{folder}: not a folder"])
    files = sorted(
        p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
    )
    if not files:
        kinds = ", ".join(sorted(AUDIO_SUFFIXES))
        raise ClipSetError([f"{folder}: no audio files ({kinds})"])
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", folder.resolve().name).strip("-.") or "clips"
    clips = [
        {
            "file": f,
            "title": Path(f).stem.replace("_", " ").replace("-", " ").capitalize(),
            "speaker": "",
            "expires": None,
        }
        for f in files
    ]
    body = yaml.safe_dump({"name": name, "clips": clips}, sort_keys=False, allow_unicode=True)
    header = (
        f"# Written by kiosk-admin new-set from {len(files)} audio files.\n"
        "# Fill in each speaker (who is heard, as shown to admins), and `expires` (the day\n"
        "# consent ends, YYYY-MM-DD) or delete that line. Then:\n"
        f"#   kiosk-admin publish {folder} --set {name} --dry-run\n"
    )
    target.write_text(header + body.replace("expires: null", "expires:  # YYYY-MM-DD"))
    return target, len(files)
