"""`GET /metrics`: the fleet in Prometheus' text format (0.0.4), for the admin bearer token
(hub.auth.require_admin).

booths_online, booths_offline, booths_revoked   gauges
sync_stale_booths                                gauge: not revoked, last heartbeat's
                                                 sync_state stale or error
lifts_total                                      counter: lift events received
listen_seconds_total{set, kind="clip"|"live"}    counter: seconds listened (clip_end and
                                                 live_end listened_ms)
kiosk_booths_by_version{version}                 gauge: not revoked, by the version their last
                                                 heartbeat runs ("unknown": never said)
kiosk_booths_by_update_state{state}              gauge: the same, by update state (idle,
                                                 downloading, staged, applying, probation,
                                                 rolled_back, failed, unknown)
kiosk_release_channel_info{channel, version}     1 per channel of the signed channels.json
kiosk_channel_booths{channel, version}           gauge: booths following a channel (or
                                                 "pinned <version>"), by version they run
kiosk_channel_booths_by_update_state{channel, state}   gauge: the same, by update state
clip_plays_total{set, clip}                      counter: clip_end events
clip_finished_total{set, clip}                   counter: ... heard to the end (listen-through
                                                 = finished / plays)
ratings_total{set, clip}                         counter: rating events (asked what it
                                                 changed; clip "" = a live call)
ratings_changed_total{set, clip}                 counter: ... answered "it changed my view"
                                                 (the rate = changed / ratings; per set: sum by)
healed_files_total{booth}                        counter: files a booth found corrupt on its
                                                 disk and fetched again (heal events; booth id)
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse, Response

from hub import rollout, stats
from hub.auth import require_admin
from kiosk.release.manifest import Channels

log = logging.getLogger(__name__)
Clock = Callable[[], float]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def label_value(value: str) -> str:
    """A label value escaped for the text format (backslash, double quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(
    name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]
) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        inner = ",".join(f'{k}="{label_value(v)}"' for k, v in labels.items())
        lines.append(f"{name}{{{inner}}} {value:g}" if inner else f"{name} {value:g}")
    return lines


family = _family  # for other modules' families (hub/live/metrics.py)


def render(
    db: stats.Reader, now: float, totals: stats.EventTotals, channels: Channels | None = None
) -> str:
    """The exposition text for the fleet as of `now` (Unix s) and its release `channels`;
    updates `totals`."""
    by_state = stats.booth_counts(db, now)
    totals.update(db)
    lines: list[str] = []
    for state, what in (
        (stats.BoothState.ONLINE, "Booths whose last heartbeat is under 1.5 intervals old."),
        (stats.BoothState.OFFLINE, "Booths not revoked and not online."),
        (stats.BoothState.REVOKED, "Booths whose credentials are revoked."),
    ):
        lines += _family(f"booths_{state}", "gauge", what, [({}, by_state[state])])
    lines += _family(
        "sync_stale_booths",
        "gauge",
        "Booths not revoked whose last heartbeat says their content sync is stale or failing.",
        [({}, stats.sync_stale_booths(db))],
    )
    lines += _family(
        "lifts_total", "counter", "Handset lifts reported by booths.", [({}, totals.lifts)]
    )
    listened = sorted(totals.listened_s.items())
    lines += _family(
        "listen_seconds_total",
        "counter",
        "Seconds listened, by clip set and kind (clip or live call).",
        [({"set": s, "kind": kind}, seconds) for (s, kind), seconds in listened],
    )
    by_clip = sorted(totals.by_clip.items())
    for event, name, index, what in (
        ("clip_end", "clip_plays_total", 0, "Clip plays (clip_end events), by set and clip."),
        ("clip_end", "clip_finished_total", 1, "Clip plays heard to the end (listen-through)."),
        ("rating", "ratings_total", 0, "Listeners asked what a clip or call changed."),
        ("rating", "ratings_changed_total", 1, "Listeners who dialed: it changed my view."),
    ):
        lines += _family(
            name,
            "counter",
            what,
            [({"set": s, "clip": c}, n[index]) for (e, s, c), n in by_clip if e == event],
        )
    lines += _family(
        "healed_files_total",
        "counter",
        "Files a booth found corrupt on its disk (a worn SD card?) and fetched again, by booth id.",
        [({"booth": b}, n) for b, n in sorted(totals.healed.items())],
    )
    return "\n".join(lines + software_families(rollout.software(db, channels))) + "\n"


def software_families(sw: rollout.Software) -> list[str]:
    """The fleet's versions, update states and channel rollouts."""
    lines = _family(
        "kiosk_booths_by_version",
        "gauge",
        "Booths not revoked, by the software version their last heartbeat reports.",
        [({"version": v}, n) for v, n in sorted(sw.by_version.items())],
    )
    lines += _family(
        "kiosk_booths_by_update_state",
        "gauge",
        "Booths not revoked, by the update state their last heartbeat reports.",
        [({"state": s}, n) for s, n in sorted(sw.by_state.items())],
    )
    lines += _family(
        "kiosk_release_channel_info",
        "gauge",
        "The release each channel of the signed releases/channels.json carries.",
        [({"channel": c, "version": v}, 1) for c, v in sorted(sw.channels.items())],
    )
    lines += _family(
        "kiosk_channel_booths",
        "gauge",
        "Booths following a channel (or pinned), by the version they run.",
        [
            ({"channel": r.name, "version": v}, n)
            for r in sw.rollouts
            for v, n in r.by_version.items()
        ],
    )
    lines += _family(
        "kiosk_channel_booths_by_update_state",
        "gauge",
        "Booths following a channel (or pinned), by update state.",
        [({"channel": r.name, "state": s}, n) for r in sw.rollouts for s, n in r.by_state.items()],
    )
    return lines


def metrics_router(
    db: stats.Reader,
    clock: Clock,
    incremental: bool = True,
    extra: Callable[[], list[str]] | None = None,
    channels: Callable[[], Channels | None] = lambda: None,
) -> APIRouter:
    """`incremental`: keep the counters from SQLite's rowids (see stats.EventTotals); `extra`
    adds families (the live relay's); `channels()` gives the signed release channels."""
    router = APIRouter(include_in_schema=False)
    totals = stats.EventTotals(incremental)
    if incremental:  # count the table once now, not in the first scrape (~230 ms at 1M events)
        threading.Thread(target=_warm_up, args=(totals, db), name="metrics-count").start()

    @router.get("/metrics", dependencies=[Depends(require_admin)])
    def metrics() -> Response:
        text = render(db, clock(), totals, channels())
        if extra is not None:
            text += "\n".join(extra()) + "\n"
        return PlainTextResponse(text, media_type=CONTENT_TYPE)

    return router


def _warm_up(totals: stats.EventTotals, db: stats.Reader) -> None:
    try:
        totals.update(db)
    except sqlite3.Error as e:  # the hub stopped meanwhile; the first scrape counts instead
        log.info("metrics: counting the events at start-up failed: %s", e)
