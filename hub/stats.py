"""The fleet's figures, read from the contract tables (booths, events) for the dashboard and
/metrics.

Every function takes a `Reader` (hub.readdb.ReadOnlyDatabase in the hub, or hub.db.Database:
one read-only statement per call) and the
times it needs (`now`, `since`: Unix seconds), so a test can move the clock. The SQL is plain
enough for PostgreSQL too (CAST, integer division, COALESCE, GROUP BY); only the `?`
placeholders would change. Event times (`events.at`) are the booths' wall clocks; days are UTC.
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from hub.fleetstore import OFFLINE_FACTOR
from kiosk.fleet.records import clean_text, readable_heartbeat

DISK_LOW_BYTES = 500 * 1024 * 1024
CLOCK_OFF_S = 60.0
DAY_S = 86400
HEAL_DAYS = 7  # a booth's files found corrupt on its disk this recently are a problem
_DAY = f"CAST(at AS INTEGER) / {DAY_S}"  # the UTC day number of an event's time
# Sums of listened_ms are taken as floating point: an integer SUM overflows (an SQLite error)
# on rows an older hub stored unchecked (up to 2**63 each).
_LISTENED = "COALESCE(SUM(CAST(listened_ms AS DOUBLE PRECISION)), 0)"


class Reader(Protocol):
    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]: ...


class BoothState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    REVOKED = "revoked"


def booth_state(
    revoked_at: float | None, last_seen: float | None, heartbeat_interval_s: float, now: float
) -> BoothState:
    if revoked_at is not None:
        return BoothState.REVOKED
    if last_seen is None or now - last_seen > OFFLINE_FACTOR * heartbeat_interval_s:
        return BoothState.OFFLINE
    return BoothState.ONLINE


@dataclass(frozen=True)
class BoothStatus:
    """One booth as the dashboard shows it; `problems` are short phrases, empty when fine."""

    id: str
    name: str
    group: str
    state: BoothState
    last_seen: float | None
    set_name: str | None
    set_version: str | None
    last_lift: float | None
    sync_state: str | None
    problems: tuple[str, ...]
    # The software (kiosk.fleet.records.Heartbeat): running version, and the update's state,
    # the release it concerns and, when rolled_back or failed, why.
    version: str | None = None
    update_state: str | None = None
    update_version: str | None = None
    update_reason: str | None = None

    @property
    def sort_key(self) -> tuple[int, str, str]:
        rank = 2 if self.state is BoothState.REVOKED else (0 if self.problems else 1)
        return rank, self.group, self.name


def heartbeat_problems(hb: dict[str, Any]) -> list[str]:
    """What a booth's last heartbeat says is wrong (missing keys are not problems)."""
    out: list[str] = []
    sync = hb.get("sync_state")
    if sync in ("stale", "error"):
        reason = hb.get("sync_reason")
        out.append(f"sync {sync}" + (f": {reason}" if reason else ""))
    if hb.get("audio_ok") is False:
        out.append("audio not working")
    if hb.get("hook_ok") is False:
        out.append("hook switch not working")
    disk = hb.get("disk_free_bytes")
    if isinstance(disk, int | float) and disk < DISK_LOW_BYTES:
        out.append(f"disk low: {disk / 1e6:.0f} MB free")
    dropped = hb.get("events_dropped")
    if isinstance(dropped, int) and dropped > 0:
        out.append(f"{dropped} events dropped")
    update = hb.get("update_state")
    if update in ("rolled_back", "failed"):
        what = "rolled back" if update == "rolled_back" else "failed"
        release = hb.get("update_version")
        reason = hb.get("update_reason")
        text = f"update to {release} {what}" if release else f"update {what}"
        out.append(text + (f": {reason}" if reason else ""))
    offset = hb.get("clock_offset_s")
    if isinstance(offset, int | float) and abs(offset) > CLOCK_OFF_S:
        out.append(f"clock off by {offset:+.0f} s")
    return out


def heal_counts(db: Reader, since: float) -> dict[str, int]:
    """Files each booth found corrupt on its disk (`heal` events, each one file) since `since`."""
    rows = db.query(
        "SELECT booth_id, COUNT(*) FROM events WHERE event = 'heal' AND at >= ? GROUP BY 1",
        (since,),
    )
    return {str(booth_id): int(n) for booth_id, n in rows}


def heal_problem(files: int) -> str:
    return (
        f"{files} file{'s' if files > 1 else ''} found corrupt on its disk in {HEAL_DAYS} days "
        "(healed; check the SD card)"
    )


def booth_statuses(db: Reader, now: float) -> list[BoothStatus]:
    """Every booth, problems first (then fine, then revoked), each by group and name."""
    rows = db.query(
        "SELECT id, name, grp, revoked_at, heartbeat_interval, last_seen, heartbeat FROM booths"
    )
    healed = heal_counts(db, now - HEAL_DAYS * DAY_S)
    out: list[BoothStatus] = []
    for booth_id, name, grp, revoked_at, interval, last_seen, heartbeat in rows:
        state = booth_state(revoked_at, last_seen, interval, now)
        hb = readable_heartbeat(heartbeat) or {}  # an old hub stored anything a booth sent
        problems: list[str] = []
        if state is BoothState.OFFLINE:
            problems.append("never seen" if last_seen is None else "offline")
        if hb.get("unreadable"):
            problems.append("unreadable heartbeat")
        if state is not BoothState.REVOKED:
            problems += heartbeat_problems(hb)
            if healed.get(booth_id):
                problems.append(heal_problem(healed[booth_id]))
        set_version = hb.get("set_version")
        last_lift = hb.get("last_lift")
        out.append(
            BoothStatus(
                id=booth_id,
                name=name,
                group=grp,
                state=state,
                last_seen=last_seen,
                set_name=_str(hb.get("set")),
                set_version=None if set_version is None else str(set_version),
                last_lift=float(last_lift) if isinstance(last_lift, int | float) else None,
                sync_state=_str(hb.get("sync_state")),
                problems=tuple(problems),
                version=_str(hb.get("version")),
                update_state=_str(hb.get("update_state")),
                update_version=_str(hb.get("update_version")),
                update_reason=_str(hb.get("update_reason")),
            )
        )
    out.sort(key=lambda b: b.sort_key)
    return out


def booth_counts(db: Reader, now: float) -> dict[BoothState, int]:
    """Booths by state, counted in SQL (as booth_state decides; /metrics scrapes this often)."""
    total, revoked, online = db.query(
        "SELECT COUNT(*), "
        "COALESCE(SUM(CASE WHEN revoked_at IS NOT NULL THEN 1 ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN revoked_at IS NULL AND last_seen IS NOT NULL "
        f"AND ? - last_seen <= {OFFLINE_FACTOR} * heartbeat_interval "
        "THEN 1 ELSE 0 END), 0) FROM booths",
        (now,),
    )[0]
    return {
        BoothState.ONLINE: online,
        BoothState.OFFLINE: total - online - revoked,
        BoothState.REVOKED: revoked,
    }


def sync_stale_booths(db: Reader) -> int:
    """Booths not revoked whose last heartbeat says sync "stale" or "error" (portable SQL
    narrows the rows; only those heartbeats are parsed)."""
    rows = db.query(
        "SELECT heartbeat FROM booths WHERE revoked_at IS NULL "
        "AND (heartbeat LIKE '%stale%' OR heartbeat LIKE '%error%')"
    )
    count = 0
    for (heartbeat,) in rows:
        try:
            hb = json.loads(heartbeat)
        except (ValueError, RecursionError):
            continue
        count += isinstance(hb, dict) and hb.get("sync_state") in ("stale", "error")
    return count


def booth_names(db: Reader, ids: Sequence[str]) -> dict[str, str]:
    if not ids:
        return {}
    marks = ", ".join("?" * len(ids))
    return dict(db.query(f"SELECT id, name FROM booths WHERE id IN ({marks})", list(ids)))


def _str(value: object) -> str | None:
    return None if value is None else str(value)


class _Rates:
    """The two rates the clips page shows, from `plays`/`finished` and `asked`/`changed`."""

    plays: int
    finished: int
    asked: int
    changed: int

    @property
    def listen_through(self) -> float:
        """The share of plays heard to the end (0..1)."""
        return self.finished / self.plays if self.plays else 0.0

    @property
    def changed_view(self) -> float:
        """The share of listeners asked who said it changed their view (0..1)."""
        return self.changed / self.asked if self.asked else 0.0


@dataclass(frozen=True)
class ClipStats(_Rates):
    """A clip's plays (clip_end events) since a time, and where its listeners hung up:
    `hangups[i]` counts plays ended early after i*bucket_s to (i+1)*bucket_s seconds (the last
    bucket holds everything longer)."""

    set_name: str
    clip: str
    title: str | None
    plays: int
    finished: int
    listened_s: float
    hangups: tuple[int, ...]
    asked: int = 0  # rating events: listeners asked what it changed
    changed: int = 0  # ... who dialed "it changed my view"


def ratings(db: Reader, since: float) -> dict[tuple[str, str | None], tuple[int, int]]:
    """(asked, changed) per (set name, clip) since `since`; a live call's ratings have clip
    None. A rating's `changed` is stored in the `finished` column (hub.fleetstore)."""
    return {
        (set_name or "", clip): (asked, int(changed))
        for set_name, clip, asked, changed in db.query(
            "SELECT set_name, clip, COUNT(*), COALESCE(SUM(finished), 0) FROM events "
            "WHERE event = 'rating' AND at >= ? GROUP BY set_name, clip",
            (since,),
        )
    }


@dataclass(frozen=True)
class SetStats(_Rates):
    """One clip set's plays and ratings since a time (`set_name` "" with `live`: live calls)."""

    set_name: str
    plays: int
    finished: int
    asked: int
    changed: int
    live: bool = False


def set_stats(db: Reader, since: float) -> list[SetStats]:
    """Every set played or rated since `since`, by name, then live calls if rated."""
    plays = {
        set_name or "": (n, int(done))
        for set_name, n, done in db.query(
            "SELECT set_name, COUNT(*), COALESCE(SUM(finished), 0) FROM events "
            "WHERE event = 'clip_end' AND at >= ? AND clip IS NOT NULL GROUP BY set_name",
            (since,),
        )
    }
    rated: dict[tuple[str, bool], tuple[int, int]] = {}
    for (set_name, clip), (asked, changed) in ratings(db, since).items():
        key = (set_name, clip is None)
        was = rated.get(key, (0, 0))
        rated[key] = (was[0] + asked, was[1] + changed)
    out = [
        SetStats(name, n, done, *rated.get((name, False), (0, 0)))
        for name, (n, done) in sorted(plays.items())
    ]
    out += [
        SetStats(name, 0, 0, *counts)
        for (name, live), counts in sorted(rated.items())
        if not live and name not in plays
    ]
    asked, changed = (sum(c[i] for (_, live), c in rated.items() if live) for i in (0, 1))
    if asked:
        out.append(SetStats("", 0, 0, asked, changed, live=True))
    return out


def clip_stats(db: Reader, since: float, bucket_s: int = 5, buckets: int = 12) -> list[ClipStats]:
    """Every clip played since `since`, most plays first."""
    rows = db.query(
        "SELECT set_name, clip, COUNT(*), COALESCE(SUM(finished), 0), "
        f"{_LISTENED} FROM events "
        "WHERE event = 'clip_end' AND at >= ? AND clip IS NOT NULL "
        "GROUP BY set_name, clip",
        (since,),
    )
    hist: dict[tuple[str, str], list[int]] = {}
    for set_name, clip, bucket, count in db.query(
        f"SELECT set_name, clip, COALESCE(listened_ms, 0) / {int(bucket_s * 1000)}, COUNT(*) "
        "FROM events WHERE event = 'clip_end' AND at >= ? AND clip IS NOT NULL "
        "AND COALESCE(finished, 0) = 0 GROUP BY 1, 2, 3",
        (since,),
    ):
        counts = hist.setdefault((set_name or "", clip), [0] * buckets)
        counts[min(max(int(bucket), 0), buckets - 1)] += count
    rated = ratings(db, since)
    out = [
        ClipStats(
            set_name=set_name or "",
            clip=clip,
            title=None,
            plays=plays,
            finished=int(finished),
            listened_s=listened_ms / 1000,
            hangups=tuple(hist.get((set_name or "", clip), [0] * buckets)),
            asked=rated.get((set_name or "", clip), (0, 0))[0],
            changed=rated.get((set_name or "", clip), (0, 0))[1],
        )
        for set_name, clip, plays, finished, listened_ms in rows
    ]
    out.sort(key=lambda c: (-c.plays, c.set_name, c.clip))
    return out


def clip_title(db: Reader, set_name: str, clip: str) -> str | None:
    """The title a booth gave the clip in one clip_start event (one index lookup)."""
    rows = db.query(
        "SELECT body FROM events WHERE event = 'clip_start' AND clip = ? "
        "AND COALESCE(set_name, '') = ? LIMIT 1",
        (clip, set_name),
    )
    if not rows:
        return None
    try:
        title = json.loads(rows[0][0]).get("title")
    except (ValueError, AttributeError, RecursionError):
        return None
    return None if title is None else clean_text(str(title), 255)


def with_titles(db: Reader, clips: Sequence[ClipStats]) -> list[ClipStats]:
    return [dataclasses.replace(c, title=clip_title(db, c.set_name, c.clip)) for c in clips]


def lifts_per_day(db: Reader, since: float) -> dict[str, dict[int, int]]:
    """Lifts per booth id per UTC day number (Unix seconds // 86400) since `since`."""
    out: dict[str, dict[int, int]] = {}
    for booth_id, day, count in db.query(
        f"SELECT booth_id, {_DAY}, COUNT(*) FROM events WHERE event = 'lift' AND at >= ? "
        "GROUP BY 1, 2",
        (since,),
    ):
        out.setdefault(booth_id, {})[int(day)] = count
    return out


@dataclass(frozen=True)
class ListenShare:
    """Clips against live calls since a time: how many and how long people listened."""

    clips: int
    clip_s: float
    lives: int
    live_s: float

    @property
    def live_share(self) -> float:
        """Live calls' share of the time listened (0..1)."""
        total = self.clip_s + self.live_s
        return self.live_s / total if total else 0.0


def listen_share(db: Reader, since: float) -> ListenShare:
    got = {
        event: (count, ms / 1000)
        for event, count, ms in db.query(
            f"SELECT event, COUNT(*), {_LISTENED} FROM events "
            "WHERE event IN ('clip_end', 'live_end') AND at >= ? GROUP BY event",
            (since,),
        )
    }
    clips, clip_s = got.get("clip_end", (0, 0.0))
    lives, live_s = got.get("live_end", (0, 0.0))
    return ListenShare(clips, clip_s, lives, live_s)


class EventTotals:
    """All-time totals for /metrics' counters, kept up to date by reading only the events
    stored since the last update.

    SQLite hands out rowids in commit order (one writer at a time), so "rowid > last" is
    exactly what is new; a rowid that went backwards (VACUUM renumbers) starts a recount,
    which Prometheus sees as a counter reset. Without `incremental` (PostgreSQL has no rowid)
    every update counts the whole table again.
    """

    def __init__(self, incremental: bool = True) -> None:
        self.incremental = incremental
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.last_rowid = 0
        self.lifts = 0
        self.listened_s: dict[tuple[str, str], float] = {}  # (set name, "clip"|"live")
        # (event "clip_end" | "rating", set name, clip): (count, finished or changed)
        self.by_clip: dict[tuple[str, str, str], tuple[int, int]] = {}
        self.healed: dict[str, int] = {}  # booth id: files found corrupt on its disk

    def update(self, db: Reader) -> None:
        with self._lock:
            if self.incremental:
                top = int(db.query("SELECT COALESCE(MAX(rowid), 0) FROM events")[0][0])
                if top < self.last_rowid:
                    self._reset()
                if top == self.last_rowid:
                    return
                new = "rowid > ? AND rowid <= ?"
                params: tuple[int, ...] = (self.last_rowid, top)
            else:
                self._reset()
                new, params, top = "1 = 1", (), 0
            for event, set_name, count, ms in db.query(
                f"SELECT event, set_name, COUNT(*), {_LISTENED} FROM events "
                f"WHERE {new} AND event IN ('lift', 'clip_end', 'live_end') GROUP BY 1, 2",
                params,
            ):
                if event == "lift":
                    self.lifts += count
                else:
                    key = (set_name or "", "live" if event == "live_end" else "clip")
                    self.listened_s[key] = self.listened_s.get(key, 0.0) + ms / 1000
            for event, set_name, clip, count, done in db.query(
                "SELECT event, set_name, clip, COUNT(*), COALESCE(SUM(finished), 0) FROM events "
                f"WHERE {new} AND event IN ('clip_end', 'rating') GROUP BY 1, 2, 3",
                params,
            ):
                if event == "clip_end" and clip is None:
                    continue
                key3 = (event, set_name or "", clip or "")  # "": a live call's rating
                was = self.by_clip.get(key3, (0, 0))
                self.by_clip[key3] = (was[0] + count, was[1] + int(done))
            for booth_id, count in db.query(
                f"SELECT booth_id, COUNT(*) FROM events WHERE {new} AND event = 'heal' GROUP BY 1",
                params,
            ):
                self.healed[str(booth_id)] = self.healed.get(str(booth_id), 0) + int(count)
            self.last_rowid = top


def day_window(now: float, days: int) -> tuple[int, float]:
    """The first UTC day number of the last `days` days (today included) and its start."""
    first = math.floor(now / DAY_S) - days + 1
    return first, float(first * DAY_S)
