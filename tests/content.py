"""A signed test repository written through the real admin code, plus a booth that syncs it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from securesystemslib.signer import Signer

from kiosk.admin.destination import LocalDestination
from kiosk.admin.publish import Loudness
from kiosk.admin.publishing import Published, publish
from kiosk.content.keys import KeyStore
from kiosk.content.repository import Clock, Repository, utcnow
from kiosk.sync.fetcher import Fetcher, FetchLimits
from kiosk.sync.store import SetStore
from kiosk.sync.updater import Source, Syncer
from tests.clipmaker import make_set


class Publisher:
    """An admin with keys and a repository folder under `base`."""

    def __init__(self, base: Path, clock: Clock = utcnow) -> None:
        self.base = base
        self.repo = Repository(base / "repo", clock)
        self.keys = KeyStore(base / "keys")
        self.online = KeyStore(base / "online")
        for store, role in (
            (self.keys, "root"),
            (self.keys, "targets"),
            (self.online, "snapshot"),
            (self.online, "timestamp"),
        ):
            store.generate(role)
        self.repo.create(
            [self.keys.signer("root")], self.keys.signer("targets"), self.online_signers()
        )

    def online_signers(self) -> dict[str, Signer]:
        return {r: self.online.signer(r) for r in ("snapshot", "timestamp")}

    def publish_clips(self, name: str, clips: dict[str, float]) -> Published:
        folder = self.base / f"src-{name}-{len(list(self.base.glob('src-*')))}"
        make_set(folder, clips, name=name)
        return publish(
            folder,
            name,
            self.destination(),
            self.keys.signer("targets"),
            Loudness(),
            dt.date.today(),
        )

    def destination(self) -> LocalDestination:
        return LocalDestination(self.repo, self.online_signers(), self.keys.public("targets"))

    @property
    def root_json(self) -> Path:
        return self.repo.metadata / "1.root.json"


_open: list[Syncer] = []


def booth_syncer(
    state: Path,
    url: str,
    root: Path,
    set_name: str,
    limits: FetchLimits | None = None,
    reserve_bytes: int = 0,
) -> tuple[Syncer, SetStore]:
    """A booth's syncer and store; `close_syncers()` (an autouse fixture) closes them."""
    store = SetStore(state)
    source = Source(url, root, set_name)
    syncer = Syncer(source, store, Fetcher(limits), state, reserve_bytes=reserve_bytes)
    _open.append(syncer)
    return syncer, store


def close_syncers() -> None:
    while _open:
        _open.pop().close()
