"""`kiosk enroll --hub URL --token-file FILE`: trade a one-time token for this booth's identity.

The token comes from a file, standard input (`--token-file -`) or KIOSK_ENROLL_TOKEN, never
from argv (kiosk.credentials). Exit codes: 0 enrolled (or already enrolled with this hub: the
token is not used), 2 the hub refused the token (unknown, used or expired), 1 the hub could
not be reached, 64 no token, or a plain http:// hub off this machine without --insecure, 78
fleet.json was written by a newer version that this one cannot read (it is not replaced).
"""

from __future__ import annotations

import sys
from pathlib import Path

from kiosk.errors import ConfigError
from kiosk.fleet import identity
from kiosk.fleet.client import FleetError, HubLimits, enroll
from kiosk.stateschema import StateSchemaError

REFUSED = 2
UNREACHABLE = 1
USAGE = 64
STATE_TOO_NEW = 78


def enroll_command(state_dir: Path, hub: str, token: str, limits: HubLimits | None = None) -> int:
    hub = identity.normalise(hub)
    path = identity.path_in(state_dir)
    try:
        current = identity.load(state_dir)
    except ConfigError as e:  # unreadable: the fresh token makes a good one
        print("\n".join(e.problems) + "; enrolling anew", file=sys.stderr)
        current = None
    except StateSchemaError as e:
        print(f"{e}; not enrolling over it", file=sys.stderr)
        return STATE_TOO_NEW
    if current is not None and current.hub == hub:
        print(f"already enrolled with {hub} as booth {current.booth_id} ({path}); token not used")
        return 0
    if current is not None:
        print(f"{path}: enrolled with {current.hub}; enrolling with {hub} instead", file=sys.stderr)
    try:
        new = enroll(hub, token, limits)
    except FleetError as e:
        print(f"enroll: {e}", file=sys.stderr)
        if e.status_code is None or e.status_code >= 500:
            return UNREACHABLE
        return REFUSED
    identity.save(state_dir, new)
    print(new.booth_id)
    return 0
