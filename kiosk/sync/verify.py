"""Check bytes on disk against the signed metadata: nothing cached is trusted on its name.

A flipped bit on the SD card or a file half-written at a power cut keeps its name and often its
length, so clips are compared by sha256 (bench.sync_verify measures the cost per MB).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import TargetFile

from kiosk.content.manifest import SetManifest
from kiosk.sync.fetcher import Fetcher

log = logging.getLogger(__name__)


def file_sha256(path: Path) -> str:
    """The sha256 of a file, hex. Raises OSError."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def matches(path: Path, sha256: str, length: int | None = None) -> bool:
    """Whether `path` is a file of `length` bytes (if given) whose sha256 is `sha256`."""
    try:
        if length is not None and path.stat().st_size != length:
            return False
        return file_sha256(path) == sha256
    except OSError:
        return False


def bad_files(folder: Path, manifest: SetManifest) -> list[str]:
    """The files of a staged set folder that do not hold what the signed manifest says.

    Every clip is hashed; `clipset.yaml` must equal the one the manifest gives.
    """
    bad = [c.file for c in manifest.clips if not matches(folder / c.file, c.sha256)]
    try:
        if (folder / "clipset.yaml").read_text() != manifest.clipset_yaml():
            bad.append("clipset.yaml")
    except (OSError, UnicodeDecodeError):
        bad.append("clipset.yaml")
    return bad


def signed_match(info: TargetFile, path: Path) -> bool:
    """Whether `path` has the signed length and hashes of `info`."""
    try:
        with path.open("rb") as f:
            info.verify_length_and_hashes(f)
    except (tuf_errors.LengthOrHashMismatchError, OSError):
        return False
    return True


def download_verified(fetcher: Fetcher, url: str, part: Path, info: TargetFile) -> bool:
    """Download `url` into `part` (resuming it with Range) and check it against `info`.

    Bytes kept from an earlier, cut download that turn out bad are dropped and the file is
    fetched once more, whole. False: the server's bytes do not match (`part` removed).
    Raises the fetcher's DownloadError family.
    """
    resumed = part.is_file() and part.stat().st_size > 0
    fetcher.download_resumable(url, part, info.length)
    if signed_match(info, part):
        return True
    part.unlink()
    if not resumed:
        return False
    log.warning("%s: resumed download did not match; fetching it whole", info.path)
    fetcher.download_resumable(url, part, info.length)
    if signed_match(info, part):
        return True
    part.unlink()
    return False
