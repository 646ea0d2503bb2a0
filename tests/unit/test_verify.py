"""Checking files on disk against the signed manifest (kiosk.sync.verify)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from kiosk.content.manifest import ManifestClip, SetManifest
from kiosk.sync import verify


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_matches_needs_the_hash_and_the_length(tmp_path: Path) -> None:
    path = tmp_path / "a.opus"
    path.write_bytes(b"abc")
    assert verify.matches(path, sha(b"abc"), 3) and verify.matches(path, sha(b"abc"))
    assert not verify.matches(path, sha(b"abc"), 4)
    assert not verify.matches(path, sha(b"abd"))
    assert not verify.matches(tmp_path / "missing", sha(b"abc"))


def test_bad_files_names_each_file_that_differs_from_the_manifest(tmp_path: Path) -> None:
    clips = tuple(
        ManifestClip(file=f, target=f"clips/{sha(f.encode())}.opus", title=f, speaker="s")
        for f in ("a.opus", "b.opus", "c.opus")
    )
    manifest = SetManifest(name="lobby", version=1, clips=clips)
    for clip in clips:
        (tmp_path / clip.file).write_bytes(clip.file.encode())
    (tmp_path / "clipset.yaml").write_text(manifest.clipset_yaml())
    assert verify.bad_files(tmp_path, manifest) == []
    (tmp_path / "a.opus").write_bytes(b"b.opus")  # same length, other bytes
    (tmp_path / "c.opus").unlink()
    (tmp_path / "clipset.yaml").write_text(manifest.clipset_yaml().replace("lobby", "other"))
    assert verify.bad_files(tmp_path, manifest) == ["a.opus", "c.opus", "clipset.yaml"]
