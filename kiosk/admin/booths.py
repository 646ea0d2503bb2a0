"""`kiosk-admin booth ...`: enrollment tokens and the fleet's booths, through the hub's API.

booth add --group G [--name N]   prints the one-time enrollment token (only place it shows)
booth list                       booths (id, name, group, online/offline/revoked, last seen)
booth rename ID NAME | booth regroup ID GROUP | booth revoke ID
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

import requests

from kiosk.content.repository import RepositoryError


def add_parser(sub: Any) -> None:
    booth = sub.add_parser("booth", help="enroll, list, rename, regroup and revoke booths")
    cmds = booth.add_subparsers(dest="booth_command", required=True)
    add = cmds.add_parser("add", help="print a one-time enrollment token for a new booth")
    add.add_argument("--group", required=True, help="the booth's group (which set it plays)")
    add.add_argument("--name", default="", help="a name to show on the dashboard")
    add.add_argument("--expires-days", type=float, default=7.0, help="token lifetime")
    cmds.add_parser("list", help="list booths and pending enrollments")
    ren = cmds.add_parser("rename", help="give a booth a new name")
    ren.add_argument("id", metavar="ID", help="the booth's id (booth list)")
    ren.add_argument("name", metavar="NAME", help="its new name")
    reg = cmds.add_parser("regroup", help="move a booth to another group")
    reg.add_argument("id", metavar="ID", help="the booth's id (booth list)")
    reg.add_argument("group", metavar="GROUP", help="its new group")
    rev = cmds.add_parser("revoke", help="revoke a booth's credential now")
    rev.add_argument("id", metavar="ID", help="the booth's id (booth list)")


class BoothApi:
    def __init__(self, url: str, token: str, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/") + "/api/v1"
        self.timeout_s = timeout_s
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            resp = self.session.request(method, self.url + path, json=body, timeout=self.timeout_s)
        except requests.RequestException as e:
            raise RepositoryError(f"cannot reach {self.url}: {type(e).__name__}") from e
        if resp.status_code != 200:
            raise RepositoryError(f"{path}: HTTP {resp.status_code}: {resp.text[:300]}")
        return resp.json()


def run(args: argparse.Namespace, api: BoothApi) -> int:
    match args.booth_command:
        case "add":
            body = {"group": args.group, "name": args.name, "ttl_s": args.expires_days * 86400}
            answer = api.call("POST", "/booths", body)
            print(answer["token"])
        case "list":
            for b in api.call("GET", "/booths"):
                state = "revoked" if b["revoked"] else "offline" if b["offline"] else "online"
                print(f"{b['id']}\t{b['name']}\t{b['group']}\t{state}\t{_when(b['last_seen'])}")
            for e in api.call("GET", "/enrollments"):
                print(f"-\t{e['name']}\t{e['group']}\tpending until {_when(e['expires_at'])}")
        case "rename":
            _show(api.call("PATCH", f"/booths/{args.id}", {"name": args.name}))
        case "regroup":
            _show(api.call("PATCH", f"/booths/{args.id}", {"group": args.group}))
        case "revoke":
            _show(api.call("POST", f"/booths/{args.id}/revoke"))
    return 0


def _show(b: dict[str, Any]) -> None:
    revoked = "\trevoked" if b["revoked"] else ""
    print(f"{b['id']}\t{b['name']}\t{b['group']}{revoked}")


def _when(t: float | None) -> str:
    if t is None:
        return "never"
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
