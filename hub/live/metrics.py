"""The relay's families for `GET /metrics` (hub/metrics.py renders them after the fleet's).

live_calls{source}                  gauge: calls relayed now
live_booths_connected               gauge: booth connections to /live/booth
live_booths_listening               gauge: of which listening to a call
live_relay_events_total{what}       counter: the relay's counters (calls by source, calls
                                    without consent, frames dropped, refusals, listens...)
"""

from __future__ import annotations

from collections import Counter

from hub.live.relay import Relay
from hub.metrics import family


def render(relay: Relay) -> list[str]:
    by_source = Counter(call.source for call in relay.calls.values())
    for source in ("twilio", "audiohook"):
        by_source.setdefault(source, 0)
    listening = sum(1 for b in relay.listeners if b.call is not None)
    lines = family(
        "live_calls",
        "gauge",
        "Calls the hub relays now (consented and allowed), by platform.",
        [({"source": s}, n) for s, n in sorted(by_source.items())],
    )
    lines += family(
        "live_booths_connected",
        "gauge",
        "Booths connected to the relay.",
        [({}, len(relay.listeners))],
    )
    lines += family(
        "live_booths_listening", "gauge", "Booths listening to a call now.", [({}, listening)]
    )
    lines += family(
        "live_relay_events_total",
        "counter",
        "The relay's counters: calls by platform, without consent, filtered, frames, refusals.",
        [({"what": k}, v) for k, v in sorted(relay.stats.items())],
    )
    return lines
