"""Sign `releases/channels.json` into a hub's repository, as `kiosk-admin assign-release` will
(issue 13a): the smallest stand-in, through the real admin code's local destination."""

from __future__ import annotations

from pathlib import Path

from kiosk.admin.destination import LocalDestination
from kiosk.admin.publishing import next_targets
from kiosk.content.keys import KeyStore
from kiosk.content.repository import Repository
from kiosk.release.manifest import CHANNELS, Channels


def sign_channels(hub_data: Path, keys: Path, channels: Channels) -> None:
    """Publish `channels` in the repository of hub data folder `hub_data` (tests.hubproc's
    layout), signed with the targets key in `keys`."""
    online = KeyStore(hub_data / "online-keys")
    targets_keys = KeyStore(keys)
    dest = LocalDestination(
        Repository(hub_data / "repo"),
        {r: online.signer(r) for r in ("snapshot", "timestamp")},
        targets_keys.public("targets"),
    )
    targets = next_targets(dest.current_targets())
    info = dest.put_target(CHANNELS, channels.to_json())
    targets.signed.targets[info.path] = info
    targets.sign(targets_keys.signer("targets"))
    dest.publish(targets)
