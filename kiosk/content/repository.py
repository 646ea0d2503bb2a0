"""The TUF repository on disk, written with python-tuf's Metadata API (consistent snapshots).

    <repo>/metadata/N.root.json      every root version (booths walk the chain)
    <repo>/metadata/N.targets.json   signed by the admin's targets key (offline from the hub)
    <repo>/metadata/N.snapshot.json  signed by the online snapshot key
    <repo>/metadata/timestamp.json   signed by the online timestamp key
    <repo>/targets/clips/<sha256>.<sha256>.<ext>         clips (hash-prefixed, content-addressed)
    <repo>/targets/sets/<name>/<sha256>.clipset.json     set manifests

Any static web server can serve the folder. Files are written temp-then-rename, and
timestamp.json last, so a reader never sees a snapshot that names a missing file.

Expiry: the Pi has no RTC, so expiries are generous (timestamp 14 days, re-signed daily by
the hub; snapshot 30 days; targets and root a year) and booths keep playing on expiry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from securesystemslib.signer import Key, Signer
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from kiosk.durable import write_atomic
from kiosk.errors import KioskError

if TYPE_CHECKING:
    from tuf.ngclient import UpdaterConfig

EXPIRY = {
    "root": dt.timedelta(days=365),
    "targets": dt.timedelta(days=365),
    "snapshot": dt.timedelta(days=30),
    "timestamp": dt.timedelta(days=14),
}
# What booths accept (tuf UpdaterConfig), and so what a publish may write. Targets metadata
# takes ~310 bytes per target (path, length, sha256, source hash and loudness): 4 MB is ~13,000
# clips; root with three root keys and one key per other role is ~2.5 KB.
MAX_BYTES = {"root": 64_000, "timestamp": 16_384, "snapshot": 64_000, "targets": 4_000_000}


def updater_config() -> UpdaterConfig:
    """A booth's TUF client settings: metadata no larger than MAX_BYTES."""
    from tuf.ngclient import UpdaterConfig  # the client side only: admin tools never need it

    return UpdaterConfig(
        root_max_length=MAX_BYTES["root"],
        timestamp_max_length=MAX_BYTES["timestamp"],
        snapshot_max_length=MAX_BYTES["snapshot"],
        targets_max_length=MAX_BYTES["targets"],
    )


Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class RepositoryError(KioskError, ValueError):
    """A publish was refused: wrong signature, wrong version, missing target bytes."""


class Repository:
    """Reads and writes one repository folder. `clock` is injected for expiry tests."""

    def __init__(self, folder: Path, clock: Clock = utcnow) -> None:
        self.folder = folder
        self.metadata = folder / "metadata"
        self.targets_dir = folder / "targets"
        self.clock = clock
        self._serializer = JSONSerializer(compact=True)  # every booth downloads it

    # -- creating ------------------------------------------------------------------------
    def create(
        self,
        roots: Sequence[Signer],
        targets: Signer,
        online: dict[str, Signer],
        root_threshold: int = 1,
    ) -> None:
        """Version 1 of every role; `online` holds the snapshot and timestamp signers.

        Root trusts every key of `roots` and needs `root_threshold` of them to sign a new root.
        """
        if (self.metadata / "1.root.json").exists():
            raise RepositoryError(f"{self.folder}: a repository already exists here")
        if not 1 <= root_threshold <= len(roots):
            raise RepositoryError(f"root threshold {root_threshold} of {len(roots)} keys")
        self.metadata.mkdir(parents=True, exist_ok=True)
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        signed = Root(expires=self._expiry("root"), consistent_snapshot=True)
        for root in roots:
            signed.add_key(root.public_key, "root")
        signed.roles["root"].threshold = root_threshold
        signed.add_key(targets.public_key, "targets")
        for role in ("snapshot", "timestamp"):
            signed.add_key(online[role].public_key, role)
        root_md = Metadata(signed)
        for root in roots:
            root_md.sign(root, append=True)
        self._write("1.root.json", root_md)
        self._write("root.json", root_md)
        targets_md = Metadata(Targets(expires=self._expiry("targets")))
        targets_md.sign(targets)
        self._write("1.targets.json", targets_md)
        self._snapshot_and_timestamp(1, online)

    # -- reading -------------------------------------------------------------------------
    def root(self) -> Metadata[Root]:
        return Metadata[Root].from_bytes((self.metadata / "root.json").read_bytes())

    def timestamp(self) -> Metadata[Timestamp]:
        return Metadata[Timestamp].from_bytes((self.metadata / "timestamp.json").read_bytes())

    def snapshot(self) -> Metadata[Snapshot]:
        version = self.timestamp().signed.snapshot_meta.version
        data = (self.metadata / f"{version}.snapshot.json").read_bytes()
        return Metadata[Snapshot].from_bytes(data)

    def targets(self) -> Metadata[Targets]:
        version = self.snapshot().signed.meta["targets.json"].version
        data = (self.metadata / f"{version}.targets.json").read_bytes()
        return Metadata[Targets].from_bytes(data)

    def target_path(self, info: TargetFile) -> Path:
        """Where the bytes of a target live (hash-prefixed basename)."""
        folder, _, base = info.path.rpartition("/")
        sha = info.hashes["sha256"]
        return self.targets_dir / folder / f"{sha}.{base}"

    def has_target_bytes(self, info: TargetFile) -> bool:
        path = self.target_path(info)
        return path.is_file() and path.stat().st_size == info.length

    # -- writing -------------------------------------------------------------------------
    def add_target_bytes(self, path: str, data: bytes) -> TargetFile:
        """Store target bytes (idempotent) and describe them for the targets metadata."""
        info = TargetFile.from_data(path, data, ["sha256"])
        dest = self.target_path(info)
        if not self.has_target_bytes(info):
            dest.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(dest, data)
        return info

    def publish_targets(self, targets: Metadata[Targets], online: dict[str, Signer]) -> int:
        """Check a signed targets metadata and publish it with new snapshot and timestamp.

        Refused unless the root's targets key signed it, its version follows the current
        one, and the bytes of every target it lists are here.
        """
        root = self.root().signed
        try:
            root.verify_delegate("targets", targets.signed_bytes, targets.signatures)
        except UnsignedMetadataError as e:
            raise RepositoryError(f"targets metadata: not signed by the targets key: {e}") from e
        current = self.targets().signed.version
        if targets.signed.version != current + 1:
            raise RepositoryError(
                f"targets metadata: version {targets.signed.version}, expected {current + 1}"
            )
        missing = [t.path for t in targets.signed.targets.values() if not self.has_target_bytes(t)]
        if missing:
            raise RepositoryError(f"targets metadata: no bytes uploaded for {missing[:5]}")
        size, limit = len(targets.to_bytes(self._serializer)), MAX_BYTES["targets"]
        if size > limit:
            raise RepositoryError(f"targets metadata: {size} bytes, booths accept {limit} at most")
        self._write(f"{targets.signed.version}.targets.json", targets)
        return self._snapshot_and_timestamp(targets.signed.version, online)

    def rotate_key(
        self, role: str, roots: Sequence[Signer], new_key: Key, old_keyid: str | None = None
    ) -> int:
        """Root version N+1 trusting `new_key` for `role`, signed by `roots`.

        `new_key` replaces `old_keyid`, or every key of the role if None. Refused unless the
        signatures meet the threshold of both the current root and the new one (TUF's rule for
        a root a booth will accept): for a root key, sign with the old key and the new one.
        """
        md = self.root()
        old = Metadata[Root].from_bytes(md.to_bytes())
        signed = md.signed
        keyids = list(signed.roles[role].keyids)
        if old_keyid is not None and old_keyid not in keyids:
            raise RepositoryError(f"root: {role} has no key {old_keyid}")
        for keyid in keyids if old_keyid is None else [old_keyid]:
            signed.revoke_key(keyid, role)
        signed.add_key(new_key, role)
        signed.version += 1
        signed.expires = self._expiry("root")
        md.signatures.clear()
        for root in roots:
            md.sign(root, append=True)
        for trusted, which in ((old.signed, "current"), (signed, "new")):
            try:
                trusted.verify_delegate("root", md.signed_bytes, md.signatures)
            except UnsignedMetadataError as e:
                threshold = trusted.roles["root"].threshold
                raise RepositoryError(
                    f"root version {signed.version}: {len(roots)} root key(s) given, the {which} "
                    f"root needs {threshold} of its keys to sign: {e}"
                ) from e
        self._write(f"{signed.version}.root.json", md)
        self._write("root.json", md)
        return signed.version

    def refresh_timestamp(self, online: dict[str, Signer]) -> int:
        """Re-sign snapshot and timestamp with new versions and expiries (run daily)."""
        return self._snapshot_and_timestamp(self.targets().signed.version, online)

    def new_targets(self) -> Metadata[Targets]:
        """The current targets metadata as the start of the next version (unsigned)."""
        md = self.targets()
        md.signatures.clear()
        md.signed.version += 1
        md.signed.expires = self._expiry("targets")
        return md

    def _snapshot_and_timestamp(self, targets_version: int, online: dict[str, Signer]) -> int:
        try:
            old_snapshot = self.snapshot().signed.version
            old_timestamp = self.timestamp().signed.version
        except FileNotFoundError:
            old_snapshot = old_timestamp = 0
        snapshot = Metadata(Snapshot(version=old_snapshot + 1, expires=self._expiry("snapshot")))
        snapshot.signed.meta["targets.json"] = MetaFile(targets_version)
        snapshot.sign(online["snapshot"])
        snap_bytes = snapshot.to_bytes(self._serializer)
        write_atomic(self.metadata / f"{snapshot.signed.version}.snapshot.json", snap_bytes)
        timestamp = Metadata(
            Timestamp(
                version=old_timestamp + 1,
                expires=self._expiry("timestamp"),
                snapshot_meta=MetaFile(
                    snapshot.signed.version,
                    len(snap_bytes),
                    {"sha256": hashlib.sha256(snap_bytes).hexdigest()},
                ),
            )
        )
        timestamp.sign(online["timestamp"])
        self._write("timestamp.json", timestamp)
        return snapshot.signed.version

    def _expiry(self, role: str) -> dt.datetime:
        return self.clock() + EXPIRY[role]

    def _write(self, name: str, md: Metadata) -> None:  # type: ignore[type-arg]
        write_atomic(self.metadata / name, md.to_bytes(self._serializer))
