"""Where a publish goes: a repository folder the admin writes, or the hub over HTTP.

Either way the admin signs the targets metadata on this machine; the destination stores the
bytes and adds snapshot and timestamp. What a destination hands back is checked against the
admin's own targets key, so a compromised hub cannot slip changes into what the admin signs.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

import requests
from securesystemslib.signer import Key, Signer
from tuf.api.exceptions import LengthOrHashMismatchError, UnsignedMetadataError
from tuf.api.metadata import Metadata, Root, Snapshot, TargetFile, Targets, Timestamp

from kiosk.content.repository import Repository, RepositoryError


class Destination(Protocol):
    def current_targets(self) -> Metadata[Targets]: ...
    def has_target(self, info: TargetFile) -> bool: ...
    def put_target(self, path: str, data: bytes) -> TargetFile: ...
    def read_target(self, info: TargetFile) -> bytes: ...
    def publish(self, targets: Metadata[Targets]) -> int: ...


def check_signed_by(md: Metadata[Targets], key: Key, where: str) -> None:
    """The current targets metadata must carry a valid signature of the admin's targets key."""
    sig = md.signatures.get(key.keyid)
    try:
        if sig is None:
            raise UnsignedMetadataError("no signature by the targets key")
        key.verify_signature(sig, md.signed_bytes)
    except Exception as e:
        raise RepositoryError(f"{where}: current targets metadata is not ours: {e}") from e


def check_bytes(info: TargetFile, data: bytes, where: str) -> bytes:
    try:
        info.verify_length_and_hashes(data)
    except LengthOrHashMismatchError as e:
        raise RepositoryError(f"{where}: {info.path} does not match its signed hash") from e
    return data


class LocalDestination:
    """A repository folder on this machine, with the online keys at hand."""

    def __init__(self, repo: Repository, online: dict[str, Signer], targets_key: Key) -> None:
        self.repo = repo
        self.online = online
        self.targets_key = targets_key

    def current_targets(self) -> Metadata[Targets]:
        md = self.repo.targets()
        check_signed_by(md, self.targets_key, str(self.repo.folder))
        return md

    def has_target(self, info: TargetFile) -> bool:
        return self.repo.has_target_bytes(info)

    def put_target(self, path: str, data: bytes) -> TargetFile:
        return self.repo.add_target_bytes(path, data)

    def read_target(self, info: TargetFile) -> bytes:
        data = self.repo.target_path(info).read_bytes()
        return check_bytes(info, data, str(self.repo.folder))

    def publish(self, targets: Metadata[Targets]) -> int:
        return self.repo.publish_targets(targets, self.online)


class HubDestination:
    """The hub's upload API (bearer token), and its public repository for reading."""

    def __init__(self, url: str, token: str, targets_key: Key, timeout_s: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.targets_key = targets_key
        self.timeout_s = timeout_s
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def _get(self, path: str) -> bytes:
        resp = self.session.get(f"{self.url}/repo/{path}", timeout=self.timeout_s)
        if resp.status_code != 200:
            raise RepositoryError(f"{self.url}/repo/{path}: HTTP {resp.status_code}")
        return resp.content

    def current_targets(self) -> Metadata[Targets]:
        timestamp = Metadata[Timestamp].from_bytes(self._get("metadata/timestamp.json"))
        snap_version = timestamp.signed.snapshot_meta.version
        snapshot = Metadata[Snapshot].from_bytes(
            self._get(f"metadata/{snap_version}.snapshot.json")
        )
        version = snapshot.signed.meta["targets.json"].version
        md = Metadata[Targets].from_bytes(self._get(f"metadata/{version}.targets.json"))
        check_signed_by(md, self.targets_key, self.url)
        return md

    def root(self) -> Metadata[Root]:
        return Metadata[Root].from_bytes(self._get("metadata/root.json"))

    def has_target(self, info: TargetFile) -> bool:
        resp = self.session.head(self._target_url(info), timeout=self.timeout_s)
        return (
            resp.status_code == 200 and int(resp.headers.get("content-length", -1)) == info.length
        )

    def put_target(self, path: str, data: bytes) -> TargetFile:
        sha = hashlib.sha256(data).hexdigest()
        resp = self.session.put(
            f"{self.url}/api/v1/targets/{path}",
            params={"sha256": sha},
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=self.timeout_s,
        )
        if resp.status_code != 200:
            raise RepositoryError(f"upload {path}: HTTP {resp.status_code}: {resp.text[:300]}")
        return TargetFile.from_data(path, data, ["sha256"])

    def read_target(self, info: TargetFile) -> bytes:
        resp = self.session.get(self._target_url(info), timeout=self.timeout_s)
        if resp.status_code != 200:
            raise RepositoryError(f"{info.path}: HTTP {resp.status_code}")
        return check_bytes(info, resp.content, self.url)

    def publish(self, targets: Metadata[Targets]) -> int:
        body = targets.to_bytes()
        resp = self.session.post(
            f"{self.url}/api/v1/publish",
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=self.timeout_s,
        )
        if resp.status_code != 200:
            raise RepositoryError(f"publish: HTTP {resp.status_code}: {resp.text[:300]}")
        return int(resp.json()["snapshot_version"])

    def _target_url(self, info: TargetFile) -> str:
        folder, _, base = info.path.rpartition("/")
        return f"{self.url}/repo/targets/{folder}/{info.hashes['sha256']}.{base}"
