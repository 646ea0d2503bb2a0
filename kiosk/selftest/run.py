"""The self-test in the order a technician meets it: card, hook, dial, receiver, lamp, bell,
network, storage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.assets import assets_dir
from kiosk.config import Config
from kiosk.selftest.console import Console
from kiosk.selftest.dial import check_dial
from kiosk.selftest.hook import check_hook
from kiosk.selftest.outputs import check_bell, check_lamp
from kiosk.selftest.report import Item, Result, as_text, skipped
from kiosk.selftest.sound import check_card, check_heard, check_playback, play
from kiosk.selftest.system import (
    check_disk,
    check_hub,
    check_sd_card,
    check_state_dir,
    hub_probe,
)

NEEDS_A_PERSON = "needs a person (--unattended)"


@dataclass(frozen=True)
class Limits:
    hook_timeout_s: float = 30.0
    dial_timeout_s: float = 30.0
    http_timeout_s: float = 5.0
    clock_skew_max_s: float = 60.0
    disk_free_min_mb: float = 200.0


def run_selftest(
    config: Config,
    console: Console,
    unattended: bool = False,
    limits: Limits = Limits(),
    pin_factory: Any = None,
    player: Callable[..., str] = play,
    wall: Callable[[], dt.datetime] = dt.datetime.now,
    sys_root: Path = Path("/sys"),
    show: Callable[[Item], None] | None = None,
) -> list[Item]:
    """Every item in order; `show` sees each one as it is decided (for the person watching)."""
    items: list[Item] = []

    def add(*new: Item) -> None:
        for item in new:
            items.append(item)
            if show is not None:
                show(item)

    card = check_card(config.audio)
    add(card)
    if unattended:
        add(skipped("hook", NEEDS_A_PERSON))
        add(
            skipped(
                "dial",
                "no dial (dial.kind: none)" if config.dial.kind == "none" else NEEDS_A_PERSON,
            )
        )
    else:
        add(check_hook(config.hook, console, limits.hook_timeout_s, pin_factory))
        add(check_dial(config.dial, console, limits.dial_timeout_s, pin_factory))
    if card.result is Result.FAIL:
        add(skipped("audio_playback", "no audio card"), skipped("audio_heard", "no audio card"))
    else:
        if not unattended:
            console.say("Hold the receiver to your ear: a tone, then a voice.")
        playback = check_playback(config.audio, assets_dir(config.assets_dir) / "prompts", player)
        add(playback)
        if unattended:
            add(skipped("audio_heard", NEEDS_A_PERSON))
        elif playback.result is Result.FAIL:
            add(skipped("audio_heard", "nothing was played"))
        else:
            add(check_heard(console))
    if unattended:
        add(skipped("status_led", NEEDS_A_PERSON), skipped("bell", NEEDS_A_PERSON))
    else:
        add(
            check_lamp(config.status_led, console, pin_factory),
            check_bell(config.bell, console, pin_factory),
        )
    add(
        *check_hub(hub_probe(config), limits.http_timeout_s, limits.clock_skew_max_s, wall),
    )
    state_dir = Path(config.state_dir)
    add(
        check_disk(state_dir, limits.disk_free_min_mb),
        check_state_dir(state_dir),
        check_sd_card(sys_root),
    )
    return items


def print_item(console: Console) -> Callable[[Item], None]:
    return lambda item: console.say(as_text(item))


def selftest_command(config: Config, as_json_output: bool, unattended: bool, limits: Limits) -> int:
    """`kiosk selftest`: items as text (or one JSON list on stdout); 1 on any FAIL."""
    import sys

    from kiosk.selftest.report import as_json, exit_code

    # With --json, stdout carries only the document: the prompts go to stderr.
    console = Console(sys.stdin, sys.stderr if as_json_output else sys.stdout)
    show = None if as_json_output else print_item(console)
    items = run_selftest(config, console, unattended, limits, show=show)
    if as_json_output:
        print(as_json(items))
    else:
        failures = sum(item.result is Result.FAIL for item in items)
        console.say(f"{failures} item(s) failed" if failures else "all checks passed")
    return exit_code(items)
