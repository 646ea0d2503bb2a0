"""The machine checks: hub reachability and TLS, the clock against the hub, disk, SD card."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import requests

from kiosk.config import Config
from kiosk.selftest.report import Item, failed, passed, skipped

NTP_FIX = "enable NTP: sudo timedatectl set-ntp true (and install fake-hwclock)"


def hub_probe(config: Config) -> str:
    """What to GET: the repository's timestamp under `sync.url`, else the enrolled hub's
    `/healthz` (`<state_dir>/fleet.json` from `kiosk enroll`), else ""."""
    if config.sync.url:
        return config.sync.url.rstrip("/") + "/metadata/timestamp.json"
    try:
        data = json.loads((Path(config.state_dir) / "fleet.json").read_text())
    except (OSError, ValueError):
        return ""
    hub = data.get("hub") if isinstance(data, dict) else None
    return hub.rstrip("/") + "/healthz" if isinstance(hub, str) and hub else ""


def check_hub(
    url: str, timeout_s: float, max_skew_s: float, wall: Callable[[], dt.datetime]
) -> list[Item]:
    """Items `hub`, `hub_tls` and `clock` from one GET of `url` (redirects not followed)."""
    if not url:
        why = "no hub configured (sync.url is empty and the booth is not enrolled)"
        return [skipped("hub", why), skipped("hub_tls", why), skipped("clock", why)]
    parts = urlsplit(url)
    where = parts.netloc or url
    tls = parts.scheme == "https"
    try:
        response = requests.get(url, timeout=timeout_s, allow_redirects=False)
        response.close()
    except requests.exceptions.SSLError as e:
        return [
            passed("hub", f"{where} answers, but its TLS fails (hub_tls)"),
            failed(
                "hub_tls",
                f"TLS with {where} failed: {_reason(e)}",
                "give the hub a certificate from a CA the booth trusts; if the clock is wrong "
                f"certificates look invalid too: {NTP_FIX}",
            ),
            skipped("clock", "no answer from the hub to compare with"),
        ]
    except requests.RequestException as e:
        return [
            failed(
                "hub",
                f"cannot reach {url}: {_reason(e)}",
                "check the network cable or Wi-Fi, DNS, the proxy/firewall, and the URL "
                "(sync.url or `kiosk enroll`)",
            ),
            skipped("hub_tls", "the hub is unreachable"),
            skipped("clock", "the hub is unreachable"),
        ]
    items = []
    status = response.status_code
    if status >= 500:
        items.append(failed("hub", f"{url} answered HTTP {status}", "check the hub's logs"))
    elif status >= 400:
        fix = "check sync.url (the repository's root) or re-enroll with the right hub URL"
        items.append(failed("hub", f"{url} answered HTTP {status}", fix))
    else:
        items.append(passed("hub", f"{url} answered HTTP {status}"))
    if tls:
        items.append(passed("hub_tls", f"{where}: certificate verified"))
    else:
        items.append(skipped("hub_tls", "plain http: no TLS (use https outside a test lab)"))
    items.append(_check_clock(response.headers.get("Date"), max_skew_s, wall))
    return items


def _reason(e: Exception) -> str:
    """The innermost cause's text: requests nests urllib3's and ssl's errors."""
    while e.__context__ is not None and isinstance(e.__context__, Exception):
        e = e.__context__
    return str(e) or type(e).__name__


def _check_clock(date: str | None, max_skew_s: float, wall: Callable[[], dt.datetime]) -> Item:
    if not date:
        return skipped("clock", "the hub sent no Date header")
    try:
        theirs = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return skipped("clock", f"the hub's Date header is unreadable: {date!r}")
    skew = (wall().astimezone(dt.UTC) - theirs).total_seconds()
    if abs(skew) <= max_skew_s:
        return passed("clock", f"within {max_skew_s:g} s of the hub's ({skew:+.0f} s)")
    side = "ahead of" if skew > 0 else "behind"
    return failed("clock", f"{abs(skew):.0f} s {side} the hub's clock", NTP_FIX)


def _create_fix(state_dir: Path) -> str:
    return (
        f"create it for the kiosk user (sudo install -d -o kiosk {state_dir}); "
        "a read-only root must leave it writable"
    )


def check_disk(state_dir: Path, min_free_mb: float) -> Item:
    """Free space on the state directory's file system; a missing directory fails."""
    if not state_dir.is_dir():
        return failed("disk", f"{state_dir} does not exist", _create_fix(state_dir))
    free_mb = shutil.disk_usage(state_dir).free / 1e6
    if free_mb >= min_free_mb:
        return passed("disk", f"{free_mb:.0f} MB free under {state_dir}")
    return failed(
        "disk",
        f"only {free_mb:.0f} MB free under {state_dir} (need {min_free_mb:g} MB)",
        "free space: sudo journalctl --vacuum-size=50M, remove old files, or use a bigger card",
    )


def check_state_dir(state_dir: Path) -> Item:
    """The state directory takes a write (a temp file, fsynced, removed)."""
    try:
        fd, name = tempfile.mkstemp(prefix=".selftest-", dir=state_dir)
        try:
            os.write(fd, b"selftest\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(name)
    except OSError as e:
        return failed(
            "state_dir", f"cannot write in {state_dir}: {e.strerror or e}", _create_fix(state_dir)
        )
    return passed("state_dir", f"{state_dir} is writable")


def check_sd_card(sys_root: Path, device: str = "mmcblk0") -> Item:
    """The SD card is not read-only (`<sys_root>/block/<device>/ro` reads 0)."""
    flag = sys_root / "block" / device / "ro"
    try:
        value = flag.read_text().strip()
    except FileNotFoundError:
        return skipped("sd_card", f"no SD card ({flag} does not exist)")
    except OSError as e:
        return failed("sd_card", f"cannot read {flag}: {e}", "run the self-test as root")
    if value == "0":
        return passed("sd_card", f"{device} is writable")
    return failed(
        "sd_card",
        f"{device} is read-only ({flag} reads {value})",
        "the card is worn out or write-protected: image a new card and replace it",
    )
