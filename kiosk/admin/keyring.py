"""The admin's keys, kept apart: root offline, targets with the admin, snapshot and timestamp
for the hub. Creating the repository (`init`) and rotating a key (`rotate-key`).

    <offline-root>/root-1.pem ...   root keys (encrypted; store this folder offline, e.g. on a
                                    USB stick in a safe, or one stick per key holder)
    <keys>/targets.pem              the targets key (encrypted): signs every publish; or only
                                    targets.pub.json naming a key on a hardware token (PKCS#11)
    <online>/snapshot.pem, timestamp.pem   unencrypted: the hub signs with them unattended
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from securesystemslib.signer import Signer

from kiosk.admin.publishing import next_targets
from kiosk.content.keys import KeyError_, KeyStore
from kiosk.content.repository import Repository, RepositoryError

ONLINE = ("snapshot", "timestamp")
ROOT_FOLDER = "offline-root"


def fingerprint(root_json: Path) -> str:
    """The sha256 of a root metadata file, as facilities compare it (`install.sh --root-sha256`)."""
    return hashlib.sha256(root_json.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Keyring:
    root: KeyStore  # offline
    targets: KeyStore
    online: KeyStore

    def root_names(self) -> list[str]:
        return self.root.names("root")

    def root_signers(self) -> list[Signer]:
        """Every root key at hand (a threshold of them must be)."""
        names = self.root_names()
        if not names and self.targets.has("root"):  # made before root moved to its own folder
            return [self.targets.signer("root")]
        if not names:
            raise KeyError_(f"{self.root.folder}: no root keys (plug in the offline root folder)")
        return [self.root.signer(n) for n in names]

    def online_signers(self) -> dict[str, Signer]:
        return {r: self.online.signer(r) for r in ONLINE}


@dataclass(frozen=True)
class Created:
    root_json: Path
    fingerprint: str
    root_keys: list[Path]
    threshold: int


def init(
    repo: Repository,
    ring: Keyring,
    root_count: int,
    threshold: int,
    encrypt: bool,
    targets_token_key: int | None = None,
) -> Created:
    """Make the keys that are missing, then version 1 of the repository.

    With `targets_token_key`, the targets key is that key id on the hardware token.
    """
    if not 1 <= threshold <= root_count:
        raise RepositoryError(f"--root-threshold {threshold}: expected 1 to --root-count")
    if (repo.metadata / "1.root.json").exists():
        raise RepositoryError(f"{repo.folder}: a repository already exists here")
    names = ["root"] if root_count == 1 else [f"root-{n}" for n in range(1, root_count + 1)]
    roots = [
        ring.root.signer(n) if ring.root.has(n) else ring.root.generate(n, encrypt) for n in names
    ]
    if ring.targets.has("targets"):
        targets = ring.targets.signer("targets")
    elif targets_token_key is not None:
        targets = ring.targets.import_token_key("targets", targets_token_key)
    else:
        targets = ring.targets.generate("targets", encrypt)
    for role in ONLINE:
        if not ring.online.has(role):
            ring.online.generate(role)  # the hub signs unattended: no passphrase
    repo.create(roots, targets, ring.online_signers(), threshold)
    root_json = repo.metadata / "1.root.json"
    keys = [ring.root.folder / f"{n}.pem" for n in names]
    return Created(root_json, fingerprint(root_json), keys, threshold)


def rotate(
    repo: Repository, ring: Keyring, role: str, key: str | None, token_key: int | None = None
) -> tuple[int, str]:
    """Replace `role`'s key (for root: the root key named `key`; for targets, with
    `token_key`: by that key id on the hardware token). Returns the root version and the
    retired key's name."""
    if token_key is not None and role != "targets":
        raise KeyError_(f"rotate-key {role}: only the targets key may be on a hardware token")
    roots = ring.root_signers()
    if role == "root":
        names = ring.root_names()
        if key is None and len(names) == 1:
            key = names[0]
        if key is None or key not in names:
            raise KeyError_(f"rotate-key root: --key is one of {names or ['(none)']}")
        store, name = ring.root, key
    else:
        store, name = (ring.targets if role == "targets" else ring.online), role
    old_keyid = store.public(name).keyid
    encrypt = store.encrypted(name)
    retired = store.retire(name)
    try:
        if token_key is not None:
            new = store.import_token_key(name, token_key)
        else:
            new = store.generate(name, encrypt)
        # For root, TUF wants the old root's threshold and the new one's: old keys and the new.
        signers = [*roots, new] if role == "root" else roots
        version = repo.rotate_key(
            role, signers, new.public_key, old_keyid if role == "root" else None
        )
    except BaseException:
        for suffix in (".pem", ".pub.json"):  # put the old key back
            (store.folder / f"{name}{suffix}").unlink(missing_ok=True)
            if (store.folder / f"{retired}{suffix}").exists():  # no .pem: a token's key
                (store.folder / f"{retired}{suffix}").rename(store.folder / f"{name}{suffix}")
        raise
    if role == "targets":  # re-sign the current content with the new key
        targets = next_targets(repo.targets())
        targets.sign(new)
        repo.publish_targets(targets, ring.online_signers())
    else:
        repo.refresh_timestamp(ring.online_signers())
    return version, retired
